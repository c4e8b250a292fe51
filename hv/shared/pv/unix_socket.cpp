#include "pv/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "pv/error.h"
#include "pv/peer_credentials.h"

namespace pv {

UniqueFd listen_unix(const std::string& path, const std::string& what, int type) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) throw UserError(what + ": path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket(" + what + ")");
  ::unlink(path.c_str());
  const mode_t old = ::umask(0177);  // created 0600
  const int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc < 0 || ::listen(fd.get(), 4) < 0) throw_errno(what + ": cannot listen on " + path);
  return fd;
}

UniqueFd accept_trusted(int listen_fd) {
  UniqueFd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return fd;
  if (!peer_is_trusted(fd.get())) fd.reset();
  return fd;
}

}  // namespace pv
