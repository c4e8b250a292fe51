#include "admin_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "admin_framing.h"
#include "admin_utf8.h"

namespace pv::admin {
namespace {

[[noreturn]] void protocol_error(const std::string& what) { throw AdminError(AdminError::Kind::kProtocol, what); }

}  // namespace

AdminClient::AdminClient(const std::string& socket_path) {
  auto unreachable = [&](const std::string& what) { return AdminError(AdminError::Kind::kUnreachable, what); };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) throw unreachable("socket path too long: " + socket_path);
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) throw unreachable(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0)
    throw unreachable("cannot reach pvd at " + socket_path + ": " + std::strerror(errno));
}

Reply AdminClient::call(Request req) {
  send(std::move(req));
  return receive();
}

void AdminClient::send(Request req) {
  req.set_api_version(kApiVersion);
  if (const std::string field = invalid_utf8_field(req); !field.empty())
    throw AdminError(AdminError::Kind::kBadRequest,
                     "not sent: " + field + " is not valid UTF-8 (names, paths and configurations must be UTF-8)");
  std::string out;
  append_frame(out, req);
  for (size_t done = 0; done < out.size();) {
    ssize_t n = ::send(fd_.get(), out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) protocol_error("pvd closed the connection while sending the request");
    done += static_cast<size_t>(n);
  }
}

Reply AdminClient::receive() {
  for (;;) {
    FrameParse f = parse_frame(inbuf_);
    if (f.status == FrameParse::kBad) protocol_error("bad reply from pvd: " + f.error);
    if (f.status == FrameParse::kFrame) {
      Reply reply;
      if (!reply.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size())))
        protocol_error("pvd sent a reply that does not parse");
      inbuf_.erase(0, f.consumed);
      return reply;
    }
    char buf[4096];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) protocol_error("pvd closed the connection before replying");
    inbuf_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace pv::admin
