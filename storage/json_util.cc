#include "storage/json_util.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/status_macros.h"

namespace slipway {
namespace {

using nlohmann::json;

// Depth of the deepest nesting of [ and { outside strings, stopping early past `limit`.
int NestingDepth(absl::string_view bytes, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char c : bytes) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth && (max_depth = depth) > limit) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

}  // namespace

absl::Status JsonError(absl::string_view where, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
}

absl::StatusOr<json> ParseJsonObject(absl::string_view bytes, absl::string_view what) {
  if (NestingDepth(bytes, kMaxJsonDepth) > kMaxJsonDepth) {
    return JsonError(what, absl::StrCat("JSON nested deeper than ", kMaxJsonDepth, " levels"));
  }
  json doc;
  try {
    doc = json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    return JsonError(what, absl::StrCat("invalid JSON: ", e.what()));
  }
  if (!doc.is_object()) {
    return JsonError(what, absl::StrCat("is a JSON ", doc.type_name(), ", want an object"));
  }
  return doc;
}

absl::StatusOr<std::string> JsonOptionalString(const json& obj, absl::string_view key,
                                               absl::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return JsonError(absl::StrCat(where, ".", key),
                     absl::StrCat("is a ", it->type_name(), ", want a string"));
  }
  return it->get<std::string>();
}

std::string JsonSnippet(const json& value) {
  std::string s = DumpCompact(value);
  if (s.size() > 60) s = s.substr(0, 60) + "...";
  return s;
}

std::string DumpCompact(const json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, absl::string_view where) {
  if (!j.is_object()) {
    return JsonError(where, absl::StrCat("is a ", j.type_name(), ", want a descriptor object"));
  }
  SLIPWAY_ASSIGN_OR_RETURN(std::string media_type, JsonOptionalString(j, "mediaType", where));
  if (media_type.empty()) return JsonError(absl::StrCat(where, ".mediaType"), "is missing or empty");
  auto digest_it = j.find("digest");
  if (digest_it == j.end() || !digest_it->is_string()) {
    return JsonError(absl::StrCat(where, ".digest"), "is missing or not a string");
  }
  auto digest = Digest::Parse(digest_it->get_ref<const std::string&>());
  if (!digest.ok()) return JsonError(absl::StrCat(where, ".digest"), digest.status().message());
  auto size_it = j.find("size");
  if (size_it == j.end() || !size_it->is_number_integer()) {
    return JsonError(absl::StrCat(where, ".size"), "is missing or not an integer");
  }
  if (size_it->is_number_unsigned() && size_it->get<uint64_t>() > INT64_MAX) {
    return JsonError(absl::StrCat(where, ".size"), "is too large");
  }
  int64_t size = size_it->get<int64_t>();
  if (size < 0) return JsonError(absl::StrCat(where, ".size"), absl::StrCat(size, " is negative"));
  Descriptor d{std::move(media_type), *std::move(digest), size, {}};
  auto ann = j.find("annotations");
  if (ann != j.end() && !ann->is_null()) {
    if (!ann->is_object()) return JsonError(absl::StrCat(where, ".annotations"), "is not an object");
    for (auto it = ann->begin(); it != ann->end(); ++it) {
      if (!it->is_string()) {
        return JsonError(absl::StrCat(where, ".annotations.", it.key()), "is not a string");
      }
      d.annotations.emplace(it.key(), it->get<std::string>());
    }
  }
  return d;
}

json DescriptorToJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.ToString();
  j["size"] = d.size;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

}  // namespace slipway
