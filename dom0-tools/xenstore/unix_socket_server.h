// Serves xenstored to dom0 clients (Debian's xenstore-utils through
// XENSTORED_PATH, pvd's own tools) on a Unix stream socket with Boost.Asio.
// Every client is domid 0; peers that are neither root nor the daemon's own
// user are refused (SO_PEERCRED).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <memory>
#include <set>
#include <string>

#include "xenstore/server.h"

namespace pv::xenstore {

class UnixSocketServer {
 public:
  // Listens on `path` (mode 0600). A socket file left by a dead daemon is
  // replaced; one with a live listener is an error. Throws pv::UserError
  // (`path` is taken) or pv::SystemError (bind, chmod, listen failed).
  UnixSocketServer(boost::asio::io_context& io, XenstoreServer& server, std::string path);
  // Stops accepting, closes every client and removes the socket file.
  ~UnixSocketServer();
  UnixSocketServer(const UnixSocketServer&) = delete;
  UnixSocketServer& operator=(const UnixSocketServer&) = delete;

  const std::string& path() const { return path_; }

 private:
  class Session;
  void accept_next();
  void session_ended(const std::shared_ptr<Session>& session);

  XenstoreServer& server_;
  std::string path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  std::set<std::shared_ptr<Session>> sessions_;
  uint64_t next_client_ = 1;
  bool stopping_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pv::xenstore
