// A blocking client of pvd's admin socket (used by pvctl and tests).
#pragma once
#include <stdexcept>
#include <string>
#include <utility>

#include "admin.pb.h"
#include "pv/unique_fd.h"

namespace pv::admin {

// Why a call got no reply. The kind tells "pvd is not there" (the caller
// may say how to point at it) from "pvd went away or answered nonsense".
class AdminError : public std::runtime_error {
 public:
  enum class Kind {
    kUnreachable,  // no connection: bad socket path, nothing listening
    kProtocol,     // connected, but no usable reply came back
    kBadRequest,   // not sent: a string in it is not valid UTF-8
  };
  AdminError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

class AdminClient {
 public:
  // Connects to pvd's socket; throws AdminError (kUnreachable) naming the
  // socket and the system's reason when pvd is not there.
  explicit AdminClient(const std::string& socket_path);

  // Sends one request (api_version is filled in) and waits for its reply;
  // throws AdminError (kProtocol) when none comes, or (kBadRequest) without
  // sending anything when one of its strings is not valid UTF-8.
  Reply call(Request req);
  // call() in two halves, for a client with several connections under way
  // (pvctl shutdown --all): send now, collect the reply later.
  void send(Request req);
  Reply receive();

  // After a console request: the connection is a raw byte stream; these are
  // its fd and the bytes that already arrived behind the reply.
  int fd() const { return fd_.get(); }
  std::string take_buffered() { return std::exchange(inbuf_, {}); }

 private:
  UniqueFd fd_;
  std::string inbuf_;
};

}  // namespace pv::admin
