#include "tests/builddiff/build_cases.h"

namespace slipway::testing {
namespace {

// Files shared by several cases.
void CommonFiles(ContextWriter& c) {
  c.File("f", "the file f\n");
  c.File("g", "the file g\n", 0640);
  c.File("d/1", "one\n");
  c.File("d/2", "two\n", 0600);
}

std::vector<BuildCase> MakeCases() {
  std::vector<BuildCase> cases;

  cases.push_back({"copy_tree",
                   [](ContextWriter& c) {
                     c.File("src/a.txt", "alpha\n");
                     c.File("src/b/c.bin", PseudoRandomBytes(200000, 7), 0755);
                     c.File("src/b/d/e", "deep\n", 0600);
                     c.Dir("src/empty");
                     c.File("src/deep/x/y/z/f", "very deep\n");
                     c.Dir("src/deep/x", 0750);
                   },
                   R"(FROM localhost/testbase:1
COPY src /app/tree/
COPY src/b /app/b-only
COPY src/deep/x /app/x-contents
)"});

  cases.push_back({"symlinks",
                   [](ContextWriter& c) {
                     c.File("links/target.txt", "target\n");
                     c.Symlink("links/rel", "target.txt");
                     c.Symlink("links/abs", "/etc/passwd");
                     c.Symlink("links/dangling", "does-not-exist");
                     c.Symlink("links/up", "../outside.txt");
                     c.Dir("links/sub");
                     c.Symlink("links/sub/back", "../target.txt");
                     c.File("outside.txt", "outside\n");
                     c.Symlink("toplink", "links/target.txt");
                   },
                   // A symlink named directly as a source is followed (its target's content is
                   // copied under the destination name); inside a copied directory symlinks
                   // are copied as symlinks, dangling ones included.
                   R"(FROM localhost/testbase:1
COPY links /l/
COPY toplink /direct-file
COPY toplink /direct-dir/
)"});

  cases.push_back({"hard_links",
                   [](ContextWriter& c) {
                     c.File("h/one", "shared content\n", 0640);
                     c.Hardlink("h/two", "h/one");
                     c.Hardlink("h/sub/three", "h/one");
                     c.File("h/other", "other\n");
                     c.Hardlink("h/other-link", "h/other");
                     c.File("h/solo", "solo\n");
                   },
                   R"(FROM localhost/testbase:1
COPY h /h/
COPY h/sub /only-sub/
)"});

  cases.push_back({"wildcards",
                   [](ContextWriter& c) {
                     c.File("a.txt", "a\n");
                     c.File("b.txt", "b\n");
                     c.File("c.md", "c\n");
                     c.File("sub/d.txt", "d\n");
                     c.File("sub/e.md", "e\n");
                     c.File("x1.log", "x1\n");
                     c.File("x22.log", "x22\n");
                   },
                   R"(FROM localhost/testbase:1
COPY *.txt /dst/
COPY sub/*.txt c.* /mix/
COPY [ab].txt x?.log /brackets/
)"});

  cases.push_back({"dest_trailing_slash",
                   [](ContextWriter& c) { CommonFiles(c); },
                   R"(FROM localhost/testbase:1
COPY f /as-file
COPY f /as-dir/
COPY d /d-noslash
COPY d /d-slash/
COPY f d/1 /multi/
COPY f /nested/new/name
)"});

  cases.push_back({"into_existing_dirs",
                   [](ContextWriter& c) { CommonFiles(c); },
                   // /srv/existing is 2775 1000:50 in the base, /home/app 0750 1000:1000: an
                   // existing directory keeps its metadata when files are copied into it.
                   R"(FROM localhost/testbase:1
COPY f /srv/existing/
COPY g /etc/added
COPY d /home/app/
COPY d /srv/existing/
)"});

  cases.push_back({"workdir_relative",
                   [](ContextWriter& c) { CommonFiles(c); },
                   R"(FROM localhost/testbase:1
WORKDIR /srv/app
COPY f rel/
COPY g .
WORKDIR sub
COPY f ./here
COPY d dd
WORKDIR /home/app
COPY g g2
)"});

  cases.push_back({"chown",
                   [](ContextWriter& c) {
                     CommonFiles(c);
                     c.File("owned-in-context", "x\n", 0644, 4242, 4343);
                   },
                   // "app" alone takes app's primary group (1000); created parents take the
                   // --chown owner too.
                   R"(FROM localhost/testbase:1
COPY --chown=1234:5678 f /n/numeric
COPY --chown=app:staff d /named/deep/
COPY --chown=app f /appgrp
COPY --chown=1000 g /num-user-only
COPY --chown=app:50 g /mixed
COPY owned-in-context /reset-to-root
COPY --chown=app:staff f /srv/existing/
)"});

  cases.push_back({"chmod",
                   [](ContextWriter& c) { CommonFiles(c); },
                   R"(FROM localhost/testbase:1
COPY --chmod=0755 f /x
COPY --chmod=4751 f /suid
COPY --chmod=0600 d /dirchmod/
COPY --chmod=2711 --chown=app:staff g /sgid
)"});

  cases.push_back({"multi_stage",
                   [](ContextWriter& c) {
                     CommonFiles(c);
                     c.File("src/a", "a\n");
                     c.Symlink("src/link", "a");
                   },
                   // --from keeps the stage's owners; --from=<index> counts stages from 0.
                   R"(FROM localhost/testbase:1 AS build
COPY src /out/
COPY --chown=7:8 f /out/owned
FROM localhost/testbase:1 AS other
COPY g /g
FROM localhost/testbase:1
COPY --from=build /out /final/
COPY --from=1 /g /from-index
COPY --from=build /out/owned /kept-owner
COPY --from=build /bin/busybox /copied-busybox
COPY --from=build /etc/pass* /pw/
COPY --from=build /srv/existing /existing-copy
)"});

  cases.push_back({"target_stage",
                   [](ContextWriter& c) { CommonFiles(c); },
                   R"(FROM localhost/testbase:1 AS first
COPY f /first
LABEL stage=first
FROM first AS second
COPY g /second
ENV STAGE=second
FROM localhost/testbase:1
COPY --from=second /second /third
)",
                   {},
                   "second"});

  cases.push_back({"add_archives",
                   [](ContextWriter& c) {
                     c.Dir("_stage/top", 0750, 33, 33);
                     c.File("_stage/top/owned", "owned by 33\n", 0640, 33, 44);
                     c.File("_stage/top/bin", PseudoRandomBytes(50000, 3), 0755);
                     c.Symlink("_stage/top/link", "owned");
                     c.Hardlink("_stage/top/hard", "_stage/top/owned");
                     c.Dir("_stage/top/empty", 0700);
                     c.File("_stage/root-file", "root\n");
                     c.Tar("a.tar.gz", "_stage", "z");
                     c.Tar("b.tar.xz", "_stage", "J");
                     c.Remove("_stage");
                     c.File("plain.txt", "not an archive\n");
                   },
                   // ADD unpacks local archives (keeping the archive's owners, modes, links).
                   R"(FROM localhost/testbase:1
ADD a.tar.gz /xa/
ADD b.tar.xz /xb
ADD plain.txt /p/
ADD a.tar.gz /srv/existing/
)"});

  cases.push_back({"config_fields",
                   [](ContextWriter& c) { CommonFiles(c); },
                   R"(FROM localhost/testbase:1
ENV A=1 B="two words"
ENV C=$A-x D=${B}
LABEL a=b "c d"=e
LABEL org.example.base=overridden
EXPOSE 80 53/udp 8080/tcp
VOLUME /data ["/v2"]
ENTRYPOINT ["/bin/echo"]
CMD ["hello", "world"]
USER app:staff
WORKDIR /w
STOPSIGNAL SIGUSR1
HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD /bin/true
ONBUILD COPY . /onbuild
COPY f .
)"});

  cases.push_back({"entrypoint_resets_cmd",
                   [](ContextWriter& c) { CommonFiles(c); },
                   // The base has Cmd ["/bin/sh"]; ENTRYPOINT in a later stage clears the
                   // inherited Cmd. Shell forms get "/bin/sh -c".
                   R"(FROM localhost/testbase:1
ENTRYPOINT /bin/echo hi
USER 1000
WORKDIR relative/dir
)"});

  cases.push_back({"arg_scoping",
                   [](ContextWriter& c) { CommonFiles(c); },
                   R"(ARG BASE=localhost/testbase:1
ARG GLOBAL=global-default
FROM ${BASE}
ARG GLOBAL
ARG V=default
ARG UNSET
ARG NOT_GIVEN=kept
ENV FROMGLOBAL=$GLOBAL V=$V U=${UNSET:-fallback} N=$NOT_GIVEN
LABEL v=$V
COPY f /$V/
FROM ${BASE}
ENV SECOND_GLOBAL=x${GLOBAL}x SECOND_V=x${V}x
COPY --from=0 /fromcli /again
)",
                   {{"V", "fromcli"}, {"GLOBAL", "global-cli"}}});

  cases.push_back({"dockerignore",
                   [](ContextWriter& c) {
                     c.File(".dockerignore", "*.log\n!keep.log\ntmp/\n**/*.bak\nsecret\n# comment\n");
                     c.File("a.log", "ignored\n");
                     c.File("keep.log", "kept\n");
                     c.File("tmp/x", "ignored\n");
                     c.File("d/e.bak", "ignored\n");
                     c.File("d/f", "kept\n");
                     c.File("secret", "ignored\n");
                     c.File("ok", "kept\n");
                   },
                   R"(FROM localhost/testbase:1
COPY . /ctx/
)"});

  {
    BuildCase modes{"odd_modes_and_owners",
                    [](ContextWriter& c) {
                      c.File("m/suid", "suid\n", 04755);
                      c.File("m/sgid", "sgid\n", 02711);
                      c.File("m/none", "mode 0\n", 0);
                      c.File("m/readonly", "ro\n", 0444);
                      c.File("m/owned", "owned\n", 0640, 4242, 4343);
                      c.Dir("m/private", 0700);
                      c.File("m/private/inner", "inner\n", 0600);
                      c.Dir("m/sticky", 01777);
                      c.Dir("m/setgid-dir", 02775);
                      c.File("m/setgid-dir/file", "in setgid dir\n");
                      c.Dir("m/readonly-dir", 0555);
                    },
                    R"(FROM localhost/testbase:1
COPY m /m/
)"};
    // buildah 1.28 drops setuid/setgid of files and setgid of directories copied from the
    // context (m/suid lands 0755, m/setgid-dir 0775; the sticky bit of m/sticky survives);
    // Docker keeps them, and so must slipway: only these bits are excused, under /m/.
    modes.diff.ignore_setid_under = {"/m/"};
    cases.push_back(std::move(modes));
  }

  cases.push_back({"empty_dirs",
                   [](ContextWriter& c) {
                     c.Dir("e/one");
                     c.Dir("e/two/three/four");
                     c.Dir("e/odd", 0711);
                     c.Dir("lonely");
                   },
                   R"(FROM localhost/testbase:1
COPY e /e/
COPY lonely /lonely-noslash
COPY lonely /lonely-slash/
)"});

  return cases;
}

}  // namespace

const std::vector<BuildCase>& BuildCases() {
  static const std::vector<BuildCase>* const cases = [] {
    auto* all = new std::vector<BuildCase>(MakeCases());
    for (BuildCase& c : MakeRunCases()) all->push_back(std::move(c));
    return all;
  }();
  return *cases;
}

}  // namespace slipway::testing
