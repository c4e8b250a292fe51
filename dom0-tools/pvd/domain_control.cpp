#include "domain_control.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::pvd {

UniqueFd connect_domain_control(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) throw UserError("control socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket(control)");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw_errno("cannot reach pv-hv's control socket " + socket_path);
  return fd;
}

ctl::Reply call_domain_control(const std::string& socket_path, ctl::Op op, uint64_t value,
                               std::chrono::milliseconds timeout) {
  UniqueFd fd = connect_domain_control(socket_path);
  const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(op), value};
  if (::send(fd.get(), &req, sizeof req, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof req))
    throw_errno("control socket " + socket_path + ": send");
  pollfd p{fd.get(), POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready < 0) throw_errno("control socket " + socket_path + ": poll");
  if (ready == 0) throw SystemError("control socket " + socket_path + ": pv-hv did not answer", ETIMEDOUT);
  ctl::Reply r{};
  const ssize_t n = ::recv(fd.get(), &r, sizeof r, MSG_DONTWAIT);
  if (n < 0) throw_errno("control socket " + socket_path + ": recv");
  if (n != static_cast<ssize_t>(sizeof r) || r.magic != ctl::kMagic)
    throw SystemError("control socket " + socket_path + ": not a pv-hv reply", EPROTO);
  return r;
}

}  // namespace pv::pvd
