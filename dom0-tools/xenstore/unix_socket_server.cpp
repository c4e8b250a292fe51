#include "xenstore/unix_socket_server.h"

#include <sys/stat.h>

#include <array>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <filesystem>

#include "pv/error.h"
#include "pv/peer_credentials.h"

namespace pv::xenstore {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

// One accepted client: reads requests into its Connection, writes what the
// Connection has to send. Lives as long as an operation or the server's
// session set holds it.
class UnixSocketServer::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(UnixSocketServer& owner, stream::socket socket, std::shared_ptr<Connection> conn)
      : owner_(owner), socket_(std::move(socket)), conn_(std::move(conn)) {}

  void start() {
    conn_->set_output_notifier([weak = weak_from_this()] {
      if (auto self = weak.lock()) self->flush();
    });
    read();
  }

  // Ends the session without touching the owner again.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    conn_->set_output_notifier(nullptr);
    owner_.server_.disconnect(*conn_);
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

 private:
  void read() {
    if (reading_ || stopped_ || !owner_.server_.wants_input(*conn_)) return;
    reading_ = true;
    socket_.async_read_some(asio::buffer(in_), [self = shared_from_this()](boost::system::error_code ec, size_t n) {
      self->reading_ = false;
      if (self->stopped_) return;
      if (ec) return self->end();
      self->owner_.server_.receive(*self->conn_, std::string_view(self->in_.data(), n));
      self->after_io();
    });
  }

  void flush() {
    if (writing_ || stopped_ || !conn_->has_output()) return;
    writing_ = true;
    out_ = conn_->take_output();
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](boost::system::error_code ec, size_t) {
      self->writing_ = false;
      if (self->stopped_) return;
      if (ec) return self->end();
      self->owner_.server_.pump(*self->conn_);
      self->after_io();
    });
  }

  void after_io() {
    if (conn_->closed()) return end();  // framing error: the server dropped it
    flush();
    read();
  }

  void end() {
    auto self = shared_from_this();
    stop();
    owner_.session_ended(self);
  }

  UnixSocketServer& owner_;
  stream::socket socket_;
  std::shared_ptr<Connection> conn_;
  std::array<char, 8192> in_{};
  std::string out_;
  bool reading_ = false, writing_ = false, stopped_ = false;
};

namespace {
// Removes a socket file nobody listens on; refuses to touch anything else
// (pv::UserError).
void remove_stale_socket(asio::io_context& io, const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  auto status = fs::symlink_status(path, ec);
  if (ec || !fs::exists(status)) return;
  if (!fs::is_socket(status))
    throw pv::UserError("cannot listen on " + path + ": " + path +
                        " exists and is not a socket; remove it or choose another --socket path");
  stream::socket probe(io);
  boost::system::error_code connect_ec;
  probe.connect(stream::endpoint(path), connect_ec);
  if (!connect_ec) throw pv::UserError("cannot listen on " + path + ": another xenstored is already listening on " + path);
  fs::remove(path, ec);
}

// Binds `path` (mode 0600) and listens; throws pv::SystemError.
void listen_on(stream::acceptor& acceptor, const std::string& path) {
  try {
    acceptor.open(stream());
    acceptor.bind(stream::endpoint(path));
    if (::chmod(path.c_str(), 0600) != 0) pv::throw_errno("cannot listen on " + path + ": chmod 0600");
    acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw pv::SystemError("cannot listen on " + path, e.code().value());
  }
}
}  // namespace

UnixSocketServer::UnixSocketServer(asio::io_context& io, XenstoreServer& server, std::string path)
    : server_(server), path_(std::move(path)), acceptor_(io) {
  remove_stale_socket(io, path_);
  listen_on(acceptor_, path_);
  accept_next();
}

UnixSocketServer::~UnixSocketServer() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& session : sessions_) session->stop();
  sessions_.clear();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

void UnixSocketServer::accept_next() {
  // The handler may run after this object is gone (the io_context outlives
  // it); `alive_` tells.
  acceptor_.async_accept([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec,
                                                                     stream::socket socket) {
    if (alive.expired() || stopping_ || ec == asio::error::operation_aborted) return;
    if (ec) server_.log("accepting a client on " + path_ + " failed: " + ec.message());
    if (!ec) {
      const auto peer = pv::peer_credentials(socket.native_handle());
      if (!peer || !pv::is_trusted_peer(*peer)) {
        std::string who = peer ? "uid " + std::to_string(peer->uid) + " (pid " + std::to_string(peer->pid) + ")"
                               : "a peer without credentials";
        server_.log("refused a client on " + path_ + ": " + who + " is neither root nor the daemon's user");
      } else {
        auto conn = server_.connect(0, "dom0 socket client " + std::to_string(next_client_++) + " (pid " +
                                           std::to_string(peer->pid) + ")");
        auto session = std::make_shared<Session>(*this, std::move(socket), std::move(conn));
        sessions_.insert(session);
        session->start();
      }
    }
    accept_next();
  });
}

void UnixSocketServer::session_ended(const std::shared_ptr<Session>& session) { sessions_.erase(session); }

}  // namespace pv::xenstore
