#include "state_guard.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "pv/error.h"
#include "pv/files.h"

namespace pv::pvd {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device node";
  return "not a socket";
}

// 0 when something accepts a connection at `path`, else connect's errno.
int probe(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return ENAMETOOLONG;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return errno;
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
}

}  // namespace

StateDirLock::StateDirLock(const std::string& state_dir) : path_(state_dir + "/pvd.lock") {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) throw SystemError("cannot create the state directory " + state_dir, ec.value());
  fd_.reset(::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd_) throw_errno("cannot open " + path_);
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) throw_errno("cannot lock " + path_);
    std::string holder = read_file(path_);
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    throw UserError("another pvd" + (holder.empty() ? std::string() : " (pid " + holder + ")") +
                    " is using the state directory " + state_dir + " (it holds " + path_ +
                    "); stop it or choose another --state-dir");
  }
  record_pid();
}

void StateDirLock::record_pid() const {
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_.get(), 0) != 0 || ::pwrite(fd_.get(), pid.data(), pid.size(), 0) < 0)
    throw_errno("cannot write " + path_);
}

void claim_socket_path(const std::string& path, const std::string& what) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw_errno("cannot look at " + what + " " + path);
  }
  const std::string refuse = "refusing " + what + " " + path + ": ";
  if (!S_ISSOCK(st.st_mode))
    throw UserError(refuse + "it is " + kind_of(st.st_mode) +
                    ", not a socket; pvd leaves it alone (remove it yourself or choose another path)");
  const int err = probe(path);
  if (err == 0) throw UserError(refuse + "a server is live on it (another pvd?); stop it or choose another path");
  if (err != ECONNREFUSED) throw SystemError(refuse + "cannot tell whether a server is live on it", err);
  if (st.st_uid != ::geteuid())
    throw UserError(refuse + "a stale socket of another user (uid " + std::to_string(st.st_uid) +
                    "); pvd leaves it alone");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove the stale socket " + path);
}

}  // namespace pv::pvd
