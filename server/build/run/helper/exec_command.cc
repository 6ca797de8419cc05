#include "server/build/run/helper/exec_command.h"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace slipway::build::sandbox_helper {
namespace {

// Docker's default PATH, used when the image's environment has none.
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// The capabilities Docker grants a container by default; the rest (CAP_SYS_ADMIN above all,
// which could unmount the sandbox's mounts or escape it) leave the bounding set.
constexpr int kKeptCaps[] = {CAP_CHOWN,        CAP_DAC_OVERRIDE, CAP_FSETID,
                             CAP_FOWNER,       CAP_MKNOD,        CAP_NET_RAW,
                             CAP_SETGID,       CAP_SETUID,       CAP_SETFCAP,
                             CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT,
                             CAP_KILL,         CAP_AUDIT_WRITE};

bool Kept(int cap) {
  for (int c : kKeptCaps) {
    if (c == cap) return true;
  }
  return false;
}

bool DropCapabilities(std::string* error) {
  for (int cap = 0; cap <= 63; ++cap) {
    if (Kept(cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      *error = std::string("drop capability: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// mkdir -p with 0755 directories owned by the user the command runs as (as BuildKit's and
// buildah's WORKDIR do, so `USER app` + `WORKDIR /x` gives app a directory it can write): the
// working directory is part of the layer. After pivot_root, so symlinks resolve inside the root.
bool MakeCwd(const std::string& cwd, uid_t uid, gid_t gid, std::string* error) {
  for (size_t pos = 1; pos <= cwd.size(); ++pos) {
    if (pos != cwd.size() && cwd[pos] != '/') continue;
    std::string prefix = cwd.substr(0, pos);
    if (mkdir(prefix.c_str(), 0755) == 0) {
      if (chmod(prefix.c_str(), 0755) != 0 ||  // whatever the umask
          chown(prefix.c_str(), uid, gid) != 0) {
        *error = "cwd " + cwd + ": chmod/chown " + prefix + ": " + std::strerror(errno);
        return false;
      }
    } else if (errno != EEXIST) {
      *error = "cwd " + cwd + ": mkdir " + prefix + ": " + std::strerror(errno);
      return false;
    }
  }
  if (chdir(cwd.c_str()) != 0) {
    *error = "cwd " + cwd + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string PathFromEnv(const std::vector<std::string>& env) {
  for (const std::string& kv : env) {
    if (kv.rfind("PATH=", 0) == 0) return kv.substr(5);
  }
  return kDefaultPath;
}

}  // namespace

void ExecCommand(const SandboxSpec& spec, std::string* error) {
  if (!MakeCwd(spec.cwd.empty() ? "/" : spec.cwd, spec.uid, spec.gid, error)) return;
  if (!DropCapabilities(error)) return;
  std::vector<gid_t> groups(spec.supplementary_gids.begin(), spec.supplementary_gids.end());
  if (setgroups(groups.size(), groups.data()) != 0 || setgid(spec.gid) != 0 ||
      setuid(spec.uid) != 0) {
    *error = "set user " + std::to_string(spec.uid) + ":" + std::to_string(spec.gid) + ": " +
             std::strerror(errno);
    return;
  }
  std::vector<char*> argv, envp;
  for (const std::string& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  const std::string& file = spec.argv[0];
  if (file.find('/') != std::string::npos) {
    execve(file.c_str(), argv.data(), envp.data());
    *error = "exec \"" + file + "\": " + std::strerror(errno);
    return;
  }
  // PATH search as execvpe does it, but over the spec's PATH, not the helper's.
  std::string path = PathFromEnv(spec.env);
  int saved = ENOENT;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t colon = path.find(':', pos);
    if (colon == std::string::npos) colon = path.size();
    std::string dir = path.substr(pos, colon - pos);
    pos = colon + 1;
    std::string candidate = (dir.empty() ? "." : dir) + "/" + file;
    execve(candidate.c_str(), argv.data(), envp.data());
    if (errno == EACCES) saved = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR) {
      saved = errno;
      break;
    }
  }
  *error = "exec \"" + file + "\": " +
           (saved == ENOENT ? std::string("not found in PATH ") + path : std::strerror(saved));
}

}  // namespace slipway::build::sandbox_helper
