// The COPY planner's sources: heredoc markers, ADD URLs and tree paths, wildcards expanded.

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "server/build/copy_planner_internal.h"
#include "server/build/url_source.h"
#include "storage/status_macros.h"

namespace slipway::build::copy_internal {

absl::StatusOr<std::vector<Source>> CollectSources(const CopyCommand& cmd,
                                                   const SourceTree* tree) {
  const absl::string_view keyword = cmd.is_add ? "ADD" : "COPY";
  std::vector<Source> sources;
  std::set<const Heredoc*> used_heredocs;
  std::vector<std::string> unmatched;
  for (const std::string& written : cmd.sources) {
    if (absl::StartsWith(written, "<<")) {
      // "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"": the heredoc whose body the parser attached.
      absl::string_view name(written);
      name.remove_prefix(2);
      absl::ConsumePrefix(&name, "-");  // <<- only strips tabs from the body
      if (name.size() >= 2 && (name.front() == '"' || name.front() == '\'') &&
          name.back() == name.front()) {
        name = name.substr(1, name.size() - 2);
      }
      const Heredoc* found = nullptr;
      for (const Heredoc& heredoc : cmd.heredocs) {
        if (heredoc.name == name && !used_heredocs.count(&heredoc)) {
          found = &heredoc;
          break;
        }
      }
      if (found == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(keyword, " ", written, ": heredoc has no body"));
      }
      used_heredocs.insert(found);
      sources.push_back(Source{Source::kHeredoc, written, "", found});
      continue;
    }
    if (cmd.is_add && IsHttpUrl(written)) {
      sources.push_back(Source{Source::kUrl, written, "", nullptr});
      continue;
    }
    if (tree == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat(keyword, " ", written, ": no source tree to copy from"));
    }
    // Sources are relative to the tree's root whatever they start with.
    std::string cleaned = CleanPath(written);
    if (!HasWildcard(cleaned)) {
      sources.push_back(Source{Source::kTree, written, cleaned, nullptr});
      continue;
    }
    SLIPWAY_ASSIGN_OR_RETURN(std::vector<std::string> matches, tree->Glob(cleaned));
    if (matches.empty()) unmatched.push_back(absl::StrCat("\"", written, "\""));
    for (std::string& match : matches) {
      sources.push_back(Source{Source::kTree, written, CleanPath(match), nullptr});
    }
  }
  // Heredocs the sources did not name (a parser that keeps them out of `sources`).
  for (const Heredoc& heredoc : cmd.heredocs) {
    if (!used_heredocs.count(&heredoc)) {
      sources.push_back(Source{Source::kHeredoc, "<<" + heredoc.name, "", &heredoc});
    }
  }
  if (sources.empty()) {
    std::string detail;
    if (!unmatched.empty()) {
      detail = absl::StrCat(": no file matches ", absl::StrJoin(unmatched, ", "));
    }
    return absl::NotFoundError(
        absl::StrCat(keyword, " failed: no source files were specified", detail));
  }
  if (!cmd.checksum.empty()) {
    for (const Source& source : sources) {
      if (source.kind != Source::kUrl) {
        return absl::InvalidArgumentError(absl::StrCat(
            keyword, " --checksum: only URL sources can be verified, not ", source.written));
      }
    }
  }
  return sources;
}

}  // namespace slipway::build::copy_internal
