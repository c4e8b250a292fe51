#include "admin_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "admin_framing.h"

namespace pv::admin {

AdminClient::AdminClient(const std::string& socket_path) : socket_path_(socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) throw std::runtime_error("socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("cannot reach pvd at " + socket_path + ": " + std::strerror(err) +
                             " (is pvd running? set --socket or PV_SOCKET)");
  }
}

AdminClient::~AdminClient() {
  if (fd_ >= 0) ::close(fd_);
}

Reply AdminClient::call(Request req) {
  req.set_api_version(kApiVersion);
  std::string out;
  append_frame(out, req.SerializeAsString());
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("pvd closed the connection while sending the request");
    done += static_cast<size_t>(n);
  }
  for (;;) {
    FrameParse f = parse_frame(inbuf_);
    if (f.status == FrameParse::kBad) throw std::runtime_error("bad reply from pvd: " + f.error);
    if (f.status == FrameParse::kFrame) {
      Reply reply;
      if (!reply.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())))
        throw std::runtime_error("pvd sent a reply that does not parse");
      inbuf_.erase(0, f.consumed);
      return reply;
    }
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("pvd closed the connection before replying");
    inbuf_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace pv::admin
