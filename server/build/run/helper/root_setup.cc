#include "server/build/run/helper/root_setup.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "server/build/run/helper/in_root.h"

namespace slipway::build::sandbox_helper {
namespace {

// Closes an fd when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

bool Fail(SetupError* error, const std::string& message, bool precondition = false) {
  error->message = message;
  error->precondition = precondition;
  return false;
}

bool WriteWholeFile(const std::string& path, const std::string& content, mode_t mode,
                    SetupError* error) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return Fail(error, Errno("create " + path));
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return Fail(error, Errno("write " + path));
    }
    off += static_cast<size_t>(n);
  }
  if (fchmod(fd, mode) != 0) {  // the umask must not weaken or strengthen what was asked
    close(fd);
    return Fail(error, Errno("chmod " + path));
  }
  close(fd);
  return true;
}

// Mounts inside the new root, before pivot_root. Every target is resolved in the root
// (helper/in_root.h) and mounted through its /proc/self/fd path, so nothing outside the root is
// ever a mount point.
class RootBuilder {
 public:
  RootBuilder(const SandboxSpec& spec, std::string scratch, bool mount_cgroup2,
              std::vector<std::string>* created)
      : spec_(spec), scratch_(std::move(scratch)), mount_cgroup2_(mount_cgroup2),
        created_(created) {}

  bool Build(SetupError* error) {
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      return Fail(error, Errno("make mounts private"), true);
    }
    if (mount("tmpfs", scratch_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700") != 0) {
      return Fail(error, Errno("tmpfs mount on " + scratch_ + " failed"), true);
    }
    if (!MountOverlayRoot(error)) return false;
    if (!MountProc(error) || !MountSys(error) || !MountDev(error) || !MountEtcFiles(error)) {
      return false;
    }
    for (size_t i = 0; i < spec_.mounts.size(); ++i) {
      if (!MountRunMount(spec_.mounts[i], i, error)) return false;
    }
    return PivotRoot(error);
  }

 private:
  std::string Scratch(const std::string& name) const { return scratch_ + "/" + name; }

  // A directory of short symlinks 0, 1, 2... to `dirs`, so that the overlay's option string
  // stays far below the kernel's one-page limit however many layers there are (and so that
  // commas or colons in real paths need no escaping).
  bool MakeLinkDir(const std::string& dir, const std::vector<std::string>& dirs,
                   std::string* lowerdir, SetupError* error) {
    if (mkdir(dir.c_str(), 0700) != 0) return Fail(error, Errno("mkdir " + dir));
    for (size_t i = 0; i < dirs.size(); ++i) {
      std::string link = dir + "/" + std::to_string(i);
      if (symlink(dirs[i].c_str(), link.c_str()) != 0) return Fail(error, Errno("symlink " + link));
      if (i > 0) *lowerdir += ':';
      *lowerdir += std::to_string(i);
    }
    return true;
  }

  bool MountOverlayRoot(SetupError* error) {
    std::vector<std::string> lowers = spec_.lower_dirs;
    if (lowers.empty()) {  // FROM scratch: overlay needs at least one lower directory
      if (mkdir(Scratch("empty").c_str(), 0755) != 0) return Fail(error, Errno("mkdir empty"));
      lowers.push_back(Scratch("empty"));
    }
    std::string lowerdir;
    std::string links = Scratch("root-layers");
    if (!MakeLinkDir(links, lowers, &lowerdir, error)) return false;
    if (symlink(spec_.upper_dir.c_str(), (links + "/u").c_str()) != 0 ||
        symlink(spec_.work_dir.c_str(), (links + "/w").c_str()) != 0) {
      return Fail(error, Errno("symlink upper/work"));
    }
    std::string root = Scratch("root");
    if (mkdir(root.c_str(), 0755) != 0) return Fail(error, Errno("mkdir " + root));
    std::string options = "lowerdir=" + lowerdir +
                          ",upperdir=u,workdir=w,redirect_dir=off,metacopy=off,index=off";
    // Relative option paths are resolved against the cwd of the mounting process.
    if (chdir(links.c_str()) != 0) return Fail(error, Errno("chdir " + links));
    if (mount("overlay", root.c_str(), "overlay", 0, options.c_str()) != 0) {
      int err = errno;
      bool precondition = err == EPERM || err == ENODEV || err == EACCES;
      errno = err;
      return Fail(error,
                  Errno("overlayfs mount failed") +
                      (err == EPERM ? " (unprivileged pod?)" : "") +
                      (precondition ? "" : " (lower " + std::to_string(lowers.size()) +
                                               " dirs, upper " + spec_.upper_dir + ")"),
                  precondition);
    }
    if (chdir("/") != 0) return Fail(error, Errno("chdir /"));
    root_.reset(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (root_.get() < 0) return Fail(error, Errno("open root"));
    return true;
  }

  // Resolves `target` in the root (creating what is missing and recording it as a
  // placeholder) and returns an O_PATH fd, or -1.
  int Target(const std::string& target, CreateAs create, SetupError* error) {
    std::string message, canonical;
    int fd = OpenInRoot(root_.get(), target, create, created_, &canonical, &message);
    if (fd < 0) {
      Fail(error, "mount target " + message);
      return -1;
    }
    if (canonical.empty()) {
      close(fd);
      Fail(error, "mount target " + target + ": resolves to the root directory");
      return -1;
    }
    return fd;
  }

  bool MountAt(const std::string& target, CreateAs create, const char* source,
               const char* fstype, unsigned long flags, const std::string& data,
               SetupError* error) {
    Fd fd(Target(target, create, error));
    if (fd.get() < 0) return false;
    if (mount(source, FdPath(fd.get()).c_str(), fstype, flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
      return Fail(error, Errno("mount " + std::string(fstype ? fstype : "bind") + " on " +
                               target),
                  fstype != nullptr &&
                      (std::string(fstype) == "proc" || std::string(fstype) == "sysfs"));
    }
    return true;
  }

  // A bind mount, made read-only when asked. The remount goes through a fresh lookup of the
  // target: the fd used for the bind names the covered directory, not the new mount.
  bool BindAt(const std::string& source, const std::string& target, bool read_only,
              SetupError* error) {
    struct stat st;
    if (stat(source.c_str(), &st) != 0) return Fail(error, Errno("bind source " + source));
    CreateAs create = S_ISDIR(st.st_mode) ? CreateAs::kDirectory : CreateAs::kFile;
    if (!MountAt(target, create, source.c_str(), nullptr, MS_BIND | MS_REC, "", error)) {
      return false;
    }
    return !read_only || RemountReadOnly(target, error);
  }

  bool RemountReadOnly(const std::string& target, SetupError* error) {
    Fd fd(Target(target, CreateAs::kNothing, error));
    if (fd.get() < 0) return false;
    if (mount(nullptr, FdPath(fd.get()).c_str(), nullptr,
              MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
      return Fail(error, Errno("remount read-only " + target));
    }
    return true;
  }

  bool MountProc(SetupError* error) {
    if (!MountAt("/proc", CreateAs::kDirectory, "proc", "proc",
                 MS_NOSUID | MS_NODEV | MS_NOEXEC, "", error)) {
      return false;
    }
    // As Docker does: the kernel's knobs stay readable but not writable from a RUN.
    for (const char* knob : {"/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"}) {
      Fd fd(OpenInRoot(root_.get(), knob, CreateAs::kNothing, nullptr, nullptr,
                       &error->message));
      if (fd.get() < 0) continue;  // not every kernel has every one
      if (mount(FdPath(fd.get()).c_str(), FdPath(fd.get()).c_str(), nullptr, MS_BIND | MS_REC,
                nullptr) != 0 ||
          !RemountReadOnly(knob, error)) {
        return Fail(error, Errno(std::string("protect ") + knob));
      }
    }
    // Masked, as Docker masks them: a RUN reads neither kernel memory nor the kernel's keys,
    // timers and scheduler state of the host's other tenants.
    for (const char* path : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                             "/proc/latency_stats", "/proc/timer_stats"}) {
      Fd fd(OpenInRoot(root_.get(), path, CreateAs::kNothing, nullptr, nullptr,
                       &error->message));
      if (fd.get() < 0) continue;  // not every kernel has every one
      if (mount("/dev/null", FdPath(fd.get()).c_str(), nullptr, MS_BIND, nullptr) != 0) {
        return Fail(error, Errno(std::string("mask ") + path));
      }
    }
    return MaskDirectories({"/proc/acpi", "/proc/scsi"}, error);
  }

  // Covers each of `dirs` that exists with an empty read-only tmpfs, as Docker masks them.
  bool MaskDirectories(std::initializer_list<const char*> dirs, SetupError* error) {
    for (const char* dir : dirs) {
      Fd fd(OpenInRoot(root_.get(), dir, CreateAs::kNothing, nullptr, nullptr,
                       &error->message));
      if (fd.get() < 0) continue;  // not every kernel has every one
      if (mount("tmpfs", FdPath(fd.get()).c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV |
                MS_NOEXEC, "size=0") != 0) {
        return Fail(error, Errno(std::string("mask ") + dir));
      }
    }
    error->message.clear();
    return true;
  }

  // A fresh sysfs, read-only, as Docker mounts it. Made in the sandbox's network namespace, it
  // shows that namespace's interfaces (only lo with network_none). Firmware tables and the
  // power-capping energy counters (a side channel) are masked, as Docker masks them.
  //
  // /sys/fs/cgroup: on a cgroup2 host the sandbox has its own cgroup namespace (unshared by
  // init, sandbox_main.cc) and gets a read-only cgroup2 mount there, rooted at its own
  // cgroup — what Docker's default (cgroupns=private) shows a container. On a cgroup v1 or
  // hybrid host it stays the empty directory of the read-only sysfs: Docker's v1 layout (a
  // tmpfs with every controller bound at the container's cgroup) has no read-only bind
  // equivalent that would not expose the host's whole cgroup tree (and each submount of a
  // recursive bind would need its own read-only remount), and a RUN step has no use for the
  // controllers.
  //
  // Neither is what RUN steps rely on, so a host that refuses them (a sandboxed kernel, a
  // restricted pod) gets an empty read-only /sys and a cgroup-less /sys/fs/cgroup rather than
  // no RUN at all — never a writable /sys whose writes would land in the layer.
  bool MountSys(SetupError* error) {
    constexpr unsigned long kFlags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (!MountAt("/sys", CreateAs::kDirectory, "sysfs", "sysfs", kFlags, "", error)) {
      if (!MountAt("/sys", CreateAs::kDirectory, "tmpfs", "tmpfs", kFlags, "size=0", error)) {
        return false;
      }
      error->message.clear();
      return true;
    }
    if (!MaskDirectories({"/sys/firmware", "/sys/devices/virtual/powercap"}, error)) {
      return false;
    }
    // Targets below are inside the read-only sysfs: nothing can be (or is) created there.
    if (mount_cgroup2_ && !MountAt("/sys/fs/cgroup", CreateAs::kNothing, "cgroup2", "cgroup2",
                                   kFlags, "", error)) {
      error->message.clear();  // best effort: the directory stays empty and read-only
    }
    return true;
  }

  bool MountDev(SetupError* error) {
    if (!MountAt("/dev", CreateAs::kDirectory, "tmpfs", "tmpfs", MS_NOSUID | MS_NOEXEC,
                 "mode=0755,size=65536k", error)) {
      return false;
    }
    // From here on targets are inside the new tmpfs: nothing is recorded as a placeholder
    // (they never reach the overlay).
    std::vector<std::string>* saved = created_;
    std::vector<std::string> in_tmpfs;
    created_ = &in_tmpfs;
    bool ok = MountDevContents(error);
    created_ = saved;
    return ok;
  }

  bool MountDevContents(SetupError* error) {
    for (const char* node : {"null", "zero", "full", "random", "urandom", "tty"}) {
      std::string host = std::string("/dev/") + node;
      struct stat st;
      if (stat(host.c_str(), &st) != 0 && errno == ENOENT) continue;  // a minimal host /dev
      if (!BindAt(host, host, false, error)) return false;
    }
    if (!MountAt("/dev/pts", CreateAs::kDirectory, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620", error) ||
        !MountAt("/dev/shm", CreateAs::kDirectory, "shm", "tmpfs",
                 MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k", error)) {
      return false;
    }
    Fd dev(Target("/dev", CreateAs::kNothing, error));
    if (dev.get() < 0) return false;
    Fd devdir(openat(dev.get(), ".", O_DIRECTORY | O_CLOEXEC));
    if (devdir.get() < 0) return Fail(error, Errno("open /dev"));
    const std::pair<const char*, const char*> links[] = {{"ptmx", "pts/ptmx"},
                                                         {"fd", "/proc/self/fd"},
                                                         {"stdin", "/proc/self/fd/0"},
                                                         {"stdout", "/proc/self/fd/1"},
                                                         {"stderr", "/proc/self/fd/2"}};
    for (const auto& [name, to] : links) {
      if (symlinkat(to, devdir.get(), name) != 0) return Fail(error, Errno("symlink /dev/" + std::string(name)));
    }
    return true;
  }

  bool MountEtcFiles(SetupError* error) {
    std::string hosts = spec_.hosts_file_content;
    if (hosts.empty()) {
      hosts = "127.0.0.1\tlocalhost " + spec_.hostname +
              "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    }
    // resolv.conf is copied, not bound: a RUN must not be able to write the host's.
    std::string resolv_source =
        spec_.resolv_conf_path.empty() ? "/etc/resolv.conf" : spec_.resolv_conf_path;
    std::string resolv;
    std::ifstream in(resolv_source, std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      resolv = ss.str();
    } else if (!spec_.resolv_conf_path.empty()) {
      return Fail(error, "resolv.conf " + resolv_source + ": cannot read");
    }
    if (!WriteWholeFile(Scratch("hosts"), hosts, 0644, error) ||
        !WriteWholeFile(Scratch("resolv.conf"), resolv, 0644, error)) {
      return false;
    }
    return BindAt(Scratch("hosts"), "/etc/hosts", false, error) &&
           BindAt(Scratch("resolv.conf"), "/etc/resolv.conf", false, error);
  }

  bool MountRunMount(const SandboxMount& m, size_t index, SetupError* error) {
    const std::string n = std::to_string(index);
    switch (m.kind) {
      case SandboxMount::Kind::kBind:
        return BindAt(m.source, m.target, m.read_only, error);
      case SandboxMount::Kind::kTmpfs: {
        char data[64];
        snprintf(data, sizeof(data), "mode=%o", m.mode != 0 ? m.mode : 01777);
        std::string options = data;
        if (m.size_bytes > 0) options += ",size=" + std::to_string(m.size_bytes);
        return MountAt(m.target, CreateAs::kDirectory, "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV,
                       options, error);
      }
      case SandboxMount::Kind::kSecretFile: {
        // The scratch directory is a tmpfs private to this mount namespace: the secret is in
        // memory only, and gone with the namespace.
        std::string file = Scratch("secret-" + n);
        if (!WriteWholeFile(file, m.content, m.mode != 0 ? m.mode : 0400, error)) return false;
        if (chown(file.c_str(), m.uid, m.gid) != 0) return Fail(error, Errno("chown secret"));
        return BindAt(file, m.target, true, error);
      }
      case SandboxMount::Kind::kOverlayRo: {
        if (m.lower_dirs.size() == 1) return BindAt(m.lower_dirs[0], m.target, true, error);
        if (m.lower_dirs.empty()) {
          return MountAt(m.target, CreateAs::kDirectory, "tmpfs", "tmpfs",
                         MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755", error);
        }
        std::string lowerdir;
        std::string links = Scratch("mount-layers-" + n);
        if (!MakeLinkDir(links, m.lower_dirs, &lowerdir, error)) return false;
        if (chdir(links.c_str()) != 0) return Fail(error, Errno("chdir " + links));
        // Without an upper directory the overlay is read-only by itself.
        bool ok = MountAt(m.target, CreateAs::kDirectory, "overlay", "overlay", MS_RDONLY,
                          "lowerdir=" + lowerdir + ",redirect_dir=off,metacopy=off,index=off",
                          error);
        if (chdir("/") != 0 && ok) return Fail(error, Errno("chdir /"));
        return ok;
      }
    }
    return Fail(error, "mount " + m.target + ": unknown kind");
  }

  bool PivotRoot(SetupError* error) {
    // pivot_root(".", ".") stacks the old root on the new one; detaching it leaves only the
    // new root (and the mounts inside it) visible.
    if (fchdir(root_.get()) != 0) return Fail(error, Errno("chdir new root"));
    if (syscall(SYS_pivot_root, ".", ".") != 0) return Fail(error, Errno("pivot_root"), true);
    if (umount2(".", MNT_DETACH) != 0) return Fail(error, Errno("detach old root"));
    if (chdir("/") != 0) return Fail(error, Errno("chdir /"));
    root_.reset(-1);
    return true;
  }

  const SandboxSpec& spec_;
  const std::string scratch_;
  const bool mount_cgroup2_;
  std::vector<std::string>* created_;
  Fd root_;
};

}  // namespace

bool SetUpRoot(const SandboxSpec& spec, const std::string& scratch_dir, bool mount_cgroup2,
               std::vector<std::string>* created, SetupError* error) {
  RootBuilder builder(spec, scratch_dir, mount_cgroup2, created);
  return builder.Build(error);
}

bool HostHasCgroup2() {
  struct statfs st;
  return statfs("/sys/fs/cgroup", &st) == 0 &&
         static_cast<unsigned long>(st.f_type) == CGROUP2_SUPER_MAGIC;
}

bool LoopbackUp(SetupError* error) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return Fail(error, Errno("socket for lo"));
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof(ifr));
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ok = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  }
  int err = errno;
  close(s);
  errno = err;
  return ok || Fail(error, Errno("bring up lo"));
}

}  // namespace slipway::build::sandbox_helper
