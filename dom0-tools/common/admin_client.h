// A blocking client of pvd's admin socket (used by pvctl and tests).
#pragma once
#include <string>
#include <utility>

#include "admin.pb.h"

namespace pv::admin {

class AdminClient {
 public:
  // Connects to pvd's socket; throws std::runtime_error with a message
  // that says what to check when pvd is not there.
  explicit AdminClient(const std::string& socket_path);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  // Sends one request (api_version is filled in) and waits for its reply.
  Reply call(Request req);

  // After a console request: the connection is a raw byte stream; these are
  // its fd and the bytes that already arrived behind the reply.
  int fd() const { return fd_; }
  std::string take_buffered() { return std::exchange(inbuf_, {}); }

 private:
  int fd_ = -1;
  std::string socket_path_;
  std::string inbuf_;
};

}  // namespace pv::admin
