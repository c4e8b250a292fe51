#include "admin_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <variant>

#include "admin_framing.h"
#include "admin_utf8.h"
#include "network/network_admin.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/peer_credentials.h"

namespace pv::pvd {
namespace A = pv::admin;
using boost::asio::local::stream_protocol;

namespace {

// One client connection. Requests are handled one at a time, in order; a
// reply may come later (destroy waits for the domain to go).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(stream_protocol::socket sock, DomainManager& domains, net::NetworkManager& networks)
      : sock_(std::move(sock)), domains_(domains), networks_(networks) {}

  void start() { read(); }

 private:
  void read() {
    auto self = shared_from_this();
    sock_.async_read_some(boost::asio::buffer(buf_), [this, self](const boost::system::error_code& ec, size_t n) {
      if (ec) return;  // client went away
      in_.append(buf_.data(), n);
      next();
    });
  }

  // Handles the next complete frame, or reads more.
  void next() {
    if (busy_) return;
    A::FrameParse f = A::parse_frame(in_);
    if (f.status == A::FrameParse::kNeedMore) return read();
    if (f.status == A::FrameParse::kBad) return fail(error_reply(A::ERROR_BAD_REQUEST, f.error));
    A::Request req;
    if (!req.ParseFromArray(f.payload.data(), static_cast<int>(f.payload.size()))) {
      // f.payload points into in_: looked at before it goes.
      const std::string field = A::invalid_utf8_field(*A::Request::descriptor(), f.payload);
      in_.erase(0, f.consumed);
      // The frame was whole: the connection can go on after a bad string.
      if (!field.empty())
        return send(error_reply(A::ERROR_BAD_REQUEST, "request refused: " + field +
                                                          " is not valid UTF-8 (names, paths and configurations "
                                                          "must be UTF-8)"));
      return fail(error_reply(A::ERROR_BAD_REQUEST, "request is not a valid pv.admin.Request"));
    }
    in_.erase(0, f.consumed);
    if (req.api_version() != A::kApiVersion)
      return send(error_reply(A::ERROR_UNSUPPORTED_VERSION, "this pvd speaks admin API version " +
                                                                std::to_string(A::kApiVersion) + ", not " +
                                                                std::to_string(req.api_version())));
    route(req);
  }

  // Where each kind of request is served: the one place a new verb is
  // routed (no default: the compiler names a oneof member left out).
  void route(const A::Request& req) {
    using R = A::Request;
    switch (req.op_case()) {
      case R::kConsole:  // the connection becomes the console's byte stream
        return attach_console(req.console());
      case R::kCreate:
      case R::kList:
      case R::kInfo:
      case R::kDestroy:
      case R::kPause:
      case R::kUnpause:
      case R::kShutdown:
      case R::kReboot:
      case R::kSchedCredit:
      case R::kVcpuList:
      case R::kVcpuPin:
      case R::kTop:
      case R::kMemSet:
      case R::kMemMax:
      case R::kBlockAttach:
      case R::kBlockDetach:
      case R::kBlockList:
      case R::kVifAttach:
      case R::kVifDetach:
      case R::kVifList:
      case R::kVcpuSet:
      case R::kDiskLimit:
      case R::kDiskResize:
      case R::kDiskSnapshot:
      case R::kDiskCommit:
      case R::kTemplateCreate:
      case R::kTemplateDelete:
      case R::kTemplateList:
      case R::kSave:
      case R::kRestore:
      case R::kSnapshotCreate:
      case R::kSnapshotList:
      case R::kSnapshotRevert:
      case R::kSnapshotDelete:
      case R::kMigrate:
        busy_ = true;
        // The callback owns the session: a reply that comes later (destroy
        // waits for the domain to go) still finds its connection.
        return domains_.handle(req, [self = shared_from_this()](A::Reply reply) { self->send(std::move(reply)); });
      case R::kNetworkCreate:
      case R::kNetworkList:
      case R::kNetworkDestroy:
        busy_ = true;  // answered at once, by the network manager
        return send(net::handle_network_request(networks_, req));
      case R::OP_NOT_SET:
        break;
    }
    busy_ = true;
    send(error_reply(A::ERROR_BAD_REQUEST, "request names no operation this pvd knows"));
  }

  void send(A::Reply reply, bool then_close = false) {
    reply.set_api_version(A::kApiVersion);
    // A reply that would not parse is no reply: bytes that are not UTF-8
    // (a guest-written reason, an old record) become U+FFFD.
    if (const size_t n = A::make_strings_valid(reply))
      log::warning("replaced bytes that are not UTF-8 in " + std::to_string(n) + " field(s) of a reply");
    auto frame = std::make_shared<std::string>();
    A::append_frame(*frame, reply);
    auto self = shared_from_this();
    boost::asio::async_write(sock_, boost::asio::buffer(*frame),
                             [this, self, frame, then_close](const boost::system::error_code& ec, size_t) {
                               busy_ = false;
                               if (ec || then_close) {
                                 boost::system::error_code ignored;
                                 sock_.close(ignored);
                                 return;
                               }
                               next();
                             });
  }

  void fail(A::Reply reply) { send(std::move(reply), true); }

  // `pvctl console`: reply, then relay raw bytes between this connection
  // and the domain's console socket (served by its pv-hv) until one closes.
  void attach_console(const A::DomainRef& ref) {
    auto where = domains_.console_socket(ref);
    if (auto* err = std::get_if<A::Reply>(&where)) return send(std::move(*err));
    boost::system::error_code ec;
    console_.emplace(sock_.get_executor());
    console_->connect(stream_protocol::endpoint(std::get<std::string>(where)), ec);
    if (ec) return send(error_reply(A::ERROR_INTERNAL, "cannot reach the domain's console: " + ec.message()));
    A::Reply ok;
    ok.set_api_version(A::kApiVersion);
    auto frame = std::make_shared<std::string>();
    A::append_frame(*frame, ok);
    auto self = shared_from_this();
    busy_ = true;
    boost::asio::async_write(sock_, boost::asio::buffer(*frame), [this, self, frame](const boost::system::error_code& e, size_t) {
      if (e) return close_both();
      // Bytes the client sent after its request belong to the console.
      auto early = std::make_shared<std::string>(std::move(in_));
      boost::asio::async_write(*console_, boost::asio::buffer(*early), [this, self, early](const boost::system::error_code& e2, size_t) {
        if (e2) return close_both();
        relay(sock_, *console_, client_buf_);
        relay(*console_, sock_, console_buf_);
      });
    });
  }

  void relay(stream_protocol::socket& from, stream_protocol::socket& to, std::array<char, 4096>& buf) {
    auto self = shared_from_this();
    from.async_read_some(boost::asio::buffer(buf), [this, self, &from, &to, &buf](const boost::system::error_code& ec, size_t n) {
      if (ec) return close_both();
      boost::asio::async_write(to, boost::asio::buffer(buf.data(), n), [this, self, &from, &to, &buf](const boost::system::error_code& e, size_t) {
        if (e) return close_both();
        relay(from, to, buf);
      });
    });
  }

  void close_both() {
    boost::system::error_code ignored;
    sock_.close(ignored);
    if (console_) console_->close(ignored);
  }

  stream_protocol::socket sock_;
  DomainManager& domains_;
  net::NetworkManager& networks_;
  std::array<char, 4096> buf_{};
  std::string in_;
  bool busy_ = false;
  std::optional<stream_protocol::socket> console_;
  std::array<char, 4096> client_buf_{}, console_buf_{};
};

}  // namespace

AdminServer::AdminServer(boost::asio::io_context& io, const std::string& socket_path, DomainManager& domains,
                         net::NetworkManager& networks)
    : path_(socket_path), acceptor_(io), domains_(domains), networks_(networks) {
  // main() claimed the path (state_guard.h): nothing is there now.
  stream_protocol::endpoint ep(path_);
  acceptor_.open(ep.protocol());
  const mode_t old = ::umask(0177);  // created 0600
  boost::system::error_code ec;
  acceptor_.bind(ep, ec);
  ::umask(old);
  if (ec) throw SystemError("cannot bind " + path_, ec.value());
  ::chmod(path_.c_str(), 0600);
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0) bound_ = {st.st_dev, st.st_ino};
  acceptor_.listen();
  accept();
}

// Only the socket this pvd bound: whatever replaced it is not ours.
AdminServer::~AdminServer() {
  struct stat st{};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && std::pair{st.st_dev, st.st_ino} == bound_)
    ::unlink(path_.c_str());
}

void AdminServer::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, stream_protocol::socket sock) {
    if (ec == boost::asio::error::operation_aborted) return;
    if (!ec) {
      if (pv::peer_is_trusted(sock.native_handle())) std::make_shared<Session>(std::move(sock), domains_, networks_)->start();
      else log::warning("refused an admin connection from a user that is neither root nor pvd's");
    }
    accept();
  });
}

}  // namespace pv::pvd
