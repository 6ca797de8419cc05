// The differential cases with RUN: each runs in both builders' sandboxes (buildah with
// --isolation chroot) on the busybox base and the resulting filesystems and configs are
// compared. File mtimes are not compared here: RUN stamps what it writes with the time of
// the build, which two builds never share.

#include "tests/builddiff/build_cases.h"

namespace slipway::testing {
namespace {

BuildCase RunCase(std::string name, std::function<void(ContextWriter&)> context,
                  std::string dockerfile,
                  std::vector<std::pair<std::string, std::string>> args = {}) {
  BuildCase c{std::move(name), std::move(context), std::move(dockerfile), std::move(args)};
  c.diff.compare_mtimes = false;
  c.diff.reference_may_add_empty = {"/dev",          "/proc",     "/sys",
                                    "/run",          "/etc/hosts", "/etc/hostname",
                                    "/etc/resolv.conf"};
  return c;
}

void NoFiles(ContextWriter&) {}

}  // namespace

std::vector<BuildCase> MakeRunCases() {
  std::vector<BuildCase> cases;

  // Created, modified and deleted files and directories: deletions are whiteouts in the layer.
  cases.push_back(RunCase("run_create_delete", NoFiles, R"(FROM localhost/testbase:1
RUN mkdir -p /a/b/c && echo one > /a/b/c/f && echo two > /a/g && chmod 0600 /a/g
RUN rm /srv/existing/from-base && rm -rf /home/app && echo more >> /a/g
RUN rm -r /a/b && touch /a/new
)"));

  // A file replaced by a directory and back, across separate layers.
  cases.push_back(RunCase("run_file_dir_swap", NoFiles, R"(FROM localhost/testbase:1
RUN echo file > /x && mkdir /y
RUN rm /x && mkdir /x && echo inside > /x/in && rmdir /y && echo now-a-file > /y
RUN rm -rf /x && echo file-again > /x
)"));

  // A directory removed and recreated: opaque in the layer, nothing of the old content shows.
  cases.push_back(RunCase("run_opaque_dir", NoFiles, R"(FROM localhost/testbase:1
RUN mkdir -p /d/sub && echo old > /d/old && echo old > /d/sub/s
RUN rm -rf /d && mkdir /d && echo new > /d/new
RUN rm -rf /srv/existing && mkdir -p /srv/existing && echo fresh > /srv/existing/f
)"));

  // Symlinks and hard links made in RUN, one of them to a file of the base layer.
  BuildCase links = RunCase("run_links", NoFiles, R"(FROM localhost/testbase:1
RUN mkdir /l && echo t > /l/target && ln -s target /l/rel && ln -s /etc/passwd /l/abs \
 && ln -s nowhere /l/dangling && ln /l/target /l/hard && mkdir /l/sub && ln /l/target /l/sub/hard2
RUN ln /etc/group /etc/group-hardlink && ln -s /l /l2
)");
  // A link to a base-layer file: Slipway keeps the pair linked, buildah stores two copies.
  links.diff.ignore_hardlink_grouping_of = {"/etc/group", "/etc/group-hardlink"};
  cases.push_back(std::move(links));

  // Modes and owners, including a metadata-only change to a base file (copy-up).
  cases.push_back(RunCase("run_chmod_chown", NoFiles, R"(FROM localhost/testbase:1
RUN echo s > /suid && chmod 4755 /suid && echo g > /sgid && chmod 2710 /sgid \
 && mkdir /sticky && chmod 1777 /sticky && echo o > /owned && chown 1000:50 /owned
RUN chmod 0600 /etc/group && chown 1000 /srv/existing/from-base
)"));

  // USER by name and WORKDIR created by the RUN that needs it; the user's id and groups.
  cases.push_back(RunCase("run_user_workdir", NoFiles, R"(FROM localhost/testbase:1
USER app
WORKDIR /home/app/work
RUN touch made-by-app && id > ids && echo "$HOME" > home
USER root
WORKDIR /opt/new/dir
RUN id -u > uid && pwd > pwd
)"));

  // USER by number and with an explicit group.
  cases.push_back(RunCase("run_user_numeric", NoFiles, R"(FROM localhost/testbase:1
RUN mkdir -m 0777 /shared
USER 1000:50
RUN touch /shared/by-1000-50 && id -u > /shared/u && id -g > /shared/g
USER 4242
RUN touch /shared/by-4242
)"));

  // ARG and ENV scoping across stages, seen by RUN.
  cases.push_back(RunCase("run_arg_env_scoping", NoFiles, R"(ARG GLOBAL=global-default
FROM localhost/testbase:1 AS first
ARG GLOBAL
ARG LOCAL=local-default
ENV FROM_ENV=env-value
RUN echo "g=$GLOBAL l=$LOCAL e=$FROM_ENV" > /first.txt
FROM localhost/testbase:1
ARG LOCAL
ENV LOCAL=${LOCAL:-unset-in-second}
RUN echo "g=$GLOBAL l=$LOCAL" > /second.txt
COPY --from=first /first.txt /first.txt
)",
                          {{"LOCAL", "from-cli"}}));

  // A stage that builds with RUN, copied from after.
  cases.push_back(RunCase("run_multistage_copy_from", NoFiles, R"(FROM localhost/testbase:1 AS builder
RUN mkdir -p /out/bin /out/share && echo "#!/bin/sh" > /out/bin/tool && chmod 0755 /out/bin/tool \
 && echo data > /out/share/d && chown -R 1000:1000 /out/share && rm /etc/group
FROM localhost/testbase:1
COPY --from=builder /out /usr/local/
RUN ls -l /usr/local/bin > /listing
)"));

  // Heredoc RUNs: a script for the shell, one with its own interpreter, one fed to a command.
  // buildah 1.28 has no heredocs: it builds the same steps written as plain RUNs.
  BuildCase heredoc = RunCase("run_heredoc", NoFiles, R"(FROM localhost/testbase:1
RUN <<EOF
mkdir /h
echo first > /h/one
echo second > /h/two
EOF
RUN <<EOT
#!/bin/sh
echo "from a shebang script" > /h/shebang
EOT
RUN cat <<EOF > /h/fed
fed through stdin
EOF
)");
  heredoc.buildah_dockerfile = R"(FROM localhost/testbase:1
RUN mkdir /h && echo first > /h/one && echo second > /h/two
RUN echo "from a shebang script" > /h/shebang
RUN echo "fed through stdin" > /h/fed
)";
  cases.push_back(std::move(heredoc));

  // SHELL changes how shell forms run; the JSON form bypasses it.
  cases.push_back(RunCase("run_shell_and_json", NoFiles, R"(FROM localhost/testbase:1
SHELL ["/bin/sh", "-e", "-c"]
RUN echo via-shell > /shell.txt
RUN ["/bin/sh", "-c", "echo via-json > /json.txt"]
RUN ["/bin/busybox", "touch", "/exec-form"]
)"));

  // RUN reads and changes what COPY brought, then COPY again on top.
  cases.push_back(RunCase("run_after_copy",
                          [](ContextWriter& c) {
                            c.File("app/config", "setting=1\n");
                            c.File("app/run.sh", "#!/bin/sh\necho run\n", 0755);
                          },
                          R"(FROM localhost/testbase:1
COPY app /app/
RUN echo setting=2 >> /app/config && chmod 0700 /app/run.sh && cp /app/config /app/config.bak
COPY app/config /app/config
)"));

  // Many files in one RUN.
  cases.push_back(RunCase("run_many_files", NoFiles, R"(FROM localhost/testbase:1
RUN for d in $(seq 1 20); do mkdir -p /many/$d; for f in $(seq 1 25); do echo "$d-$f" > /many/$d/$f; done; done
RUN rm -rf /many/7 /many/13/1 && mkfifo /many/fifo
)"));

  // A RUN that changes nothing still makes an (empty) layer in both builders.
  cases.push_back(RunCase("run_no_change", NoFiles, R"(FROM localhost/testbase:1
RUN true
RUN echo after > /after
)"));

  // The environment a RUN sees: the image's ENV, build args, PATH.
  cases.push_back(RunCase("run_environment", NoFiles, R"(FROM localhost/testbase:1
ARG BUILD_ONLY=arg-value
ENV PATH=/usr/local/bin:/bin IMAGE_ENV=image-value
RUN echo "path=$PATH image=$IMAGE_ENV arg=$BUILD_ONLY" > /env.txt
)"));

  // RUN --mount: a bind from the context, a cache, a tmpfs; none of them reach the layer.
  BuildCase mounts = RunCase("run_mounts",
                          [](ContextWriter& c) {
                            c.File("src/input.txt", "bound input\n");
                            c.File("src/sub/more", "more\n");
                          },
                          R"(FROM localhost/testbase:1
RUN --mount=type=bind,source=src,target=/mnt/src cp /mnt/src/input.txt /copied && ls /mnt/src/sub > /listed
RUN --mount=type=cache,target=/var/cache/thing echo cached > /var/cache/thing/c && ls /var/cache/thing > /cache-listing
RUN --mount=type=tmpfs,target=/scratch echo tmp > /scratch/t && cat /scratch/t > /from-tmpfs
)");
  // buildah removes the mount targets it created but not their parents.
  for (const char* p : {"/mnt", "/var", "/var/cache"}) mounts.diff.reference_may_add_empty.push_back(p);
  cases.push_back(std::move(mounts));

  return cases;
}

}  // namespace slipway::testing
