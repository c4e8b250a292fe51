#include "migrate_receive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "host_port.h"
#include "migrate_wire.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/unique_fd.h"

namespace pv::pvd {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
namespace fs = std::filesystem;

namespace {
constexpr auto kHandshakeDeadline = std::chrono::seconds(15);
constexpr auto kIdleDeadline = std::chrono::seconds(30);  // no byte for this long: the peer is gone
constexpr size_t kMaxSessions = 4;
constexpr size_t kChunk = 1 << 20;
}  // namespace

struct MigrateListener::Shared {
  ssl::context tls;
  std::string incoming_dir;
  Exists exists;
  Restore restore;
  std::set<std::string> arriving;  // names whose stream is on its way
  size_t sessions = 0;
  bool closed = false;
};

namespace {

// One incoming migration, from the TLS handshake to the last answer.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket sock, std::shared_ptr<MigrateListener::Shared> shared)
      : shared_(std::move(shared)), stream_(std::move(sock), shared_->tls), timer_(stream_.get_executor()) {
    boost::system::error_code ec;
    const auto ep = stream_.next_layer().remote_endpoint(ec);
    peer_ = ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
    ++shared_->sessions;
  }
  ~Session() {
    --shared_->sessions;
    if (!partial_.empty()) ::unlink(partial_.c_str());
    if (!name_.empty()) shared_->arriving.erase(name_);
  }

  void start() {
    arm(kHandshakeDeadline);
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->drop("TLS handshake failed: " + tls_error_text(ec));
      self->read_offer();
    });
  }

 private:
  void arm(std::chrono::steady_clock::duration d) {
    timer_.expires_after(d);
    timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = w.lock()) {
        log::warning("migration from " + self->peer_ + ": no progress in time; dropped");
        self->stream_.next_layer().close();
      }
    });
  }

  // Ends the session without an answer (the peer cannot be told, or is not trusted).
  void drop(const std::string& why) {
    log::warning("migration from " + peer_ + (name_.empty() ? "" : " of domain " + name_) + ": " + why);
    timer_.cancel();
    boost::system::error_code ec;
    stream_.next_layer().close(ec);
  }

  // Answers, then closes (refused) or goes on with `then` (ready).
  void answer(bool ok, const std::string& message, std::function<void()> then = nullptr) {
    if (!ok) log::warning("migration from " + peer_ + (name_.empty() ? "" : " of domain " + name_) + " refused: " + message);
    out_ = migrate::encode_answer(ok, message);
    arm(kIdleDeadline);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = shared_from_this(), ok, then](const boost::system::error_code& ec, size_t) {
                        if (ec) return self->drop("cannot answer: " + tls_error_text(ec));
                        if (ok && then) return then();
                        self->finish();
                      });
  }

  void finish() {
    arm(std::chrono::seconds(5));
    stream_.async_shutdown([self = shared_from_this()](const boost::system::error_code&) {
      self->timer_.cancel();
      boost::system::error_code ec;
      self->stream_.next_layer().close(ec);
    });
  }

  void read_offer() {
    arm(kIdleDeadline);
    asio::async_read(stream_, asio::buffer(offer_), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      if (ec) return self->drop("no offer: " + tls_error_text(ec));
      const auto p = migrate::parse_offer_fixed(self->offer_);
      if (!p.error.empty()) return self->answer(false, p.error);
      self->name_buf_.resize(p.value);
      asio::async_read(self->stream_, asio::buffer(self->name_buf_),
                       [self](const boost::system::error_code& e2, size_t) {
                         if (e2) return self->drop("no domain name: " + tls_error_text(e2));
                         self->offered();
                       });
    });
  }

  void offered() {
    const std::string& n = name_buf_;
    if (!migrate::valid_domain_name(n)) return answer(false, "'" + n + "' is not a domain name");
    if (shared_->exists(n)) return answer(false, "a domain named '" + n + "' exists on the target already");
    if (shared_->arriving.contains(n)) return answer(false, "domain '" + n + "' is being migrated here already");
    name_ = n;
    shared_->arriving.insert(n);
    log::info("migration from " + peer_ + ": offered domain " + n + "; ready");
    answer(true, "ready", [self = shared_from_this()] { self->read_length(); });
  }

  void read_length() {
    arm(kIdleDeadline);
    asio::async_read(stream_, asio::buffer(len_), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      if (ec) return self->drop("no stream: " + tls_error_text(ec));
      const auto p = migrate::parse_length(self->len_);
      if (!p.error.empty()) return self->answer(false, p.error);
      self->total_ = p.value;
      std::error_code fec;
      fs::create_directories(self->shared_->incoming_dir, fec);
      const std::string partial = self->shared_->incoming_dir + "/" + self->name_ + ".pvsave.partial";
      ::unlink(partial.c_str());  // one a pvd that died left
      self->file_ = UniqueFd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!self->file_) return self->answer(false, "the target cannot create " + partial + ": " + std::strerror(errno));
      self->partial_ = partial;
      self->buf_.resize(kChunk);
      self->started_ = std::chrono::steady_clock::now();
      self->read_chunk();
    });
  }

  void read_chunk() {
    if (got_ == total_) return received();
    arm(kIdleDeadline);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, total_ - got_));
    asio::async_read(stream_, asio::buffer(buf_.data(), n),
                     [self = shared_from_this(), n](const boost::system::error_code& ec, size_t) {
                       if (ec)
                         return self->drop("stream truncated after " + std::to_string(self->got_) + " of " +
                                           std::to_string(self->total_) + " bytes: " + tls_error_text(ec));
                       for (size_t off = 0; off < n;) {
                         const ssize_t w = ::write(self->file_.get(), self->buf_.data() + off, n - off);
                         if (w < 0 && errno == EINTR) continue;
                         if (w <= 0)
                           return self->answer(false, "the target cannot write " + self->partial_ + ": " +
                                                          std::strerror(w < 0 ? errno : ENOSPC));
                         off += static_cast<size_t>(w);
                       }
                       self->got_ += n;
                       self->read_chunk();
                     });
  }

  void received() {
    timer_.cancel();
    file_.reset();
    const std::string path = shared_->incoming_dir + "/" + name_ + ".pvsave";
    if (::rename(partial_.c_str(), path.c_str()) != 0)
      return answer(false, "the target cannot rename " + partial_ + ": " + std::strerror(errno));
    partial_ = path;  // removed once restored (pv-hv has read it) or not
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
    log::info("migration from " + peer_ + ": domain " + name_ + ": " + std::to_string(total_) + " bytes in " +
              std::to_string(ms.count()) + " ms; restoring");
    shared_->restore(path, name_, [self = shared_from_this()](const admin::Reply& rep) {
      ::unlink(self->partial_.c_str());
      self->partial_.clear();
      if (rep.error() != admin::ERROR_NONE) return self->answer(false, "the target cannot restore it: " + rep.message());
      log::info("migration from " + self->peer_ + ": domain " + self->name_ + " runs here now");
      self->answer(true, "domain " + self->name_ + " runs on the target");
    });
  }

  std::shared_ptr<MigrateListener::Shared> shared_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  std::string peer_, name_, name_buf_, partial_, out_;
  char offer_[migrate::kOfferFixed]{};
  char len_[8]{};
  uint64_t total_ = 0, got_ = 0;
  std::vector<char> buf_;
  UniqueFd file_;
  std::chrono::steady_clock::time_point started_;
};

tcp::endpoint parse_listen(const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (!admin::split_host_port(address, 0, host, port) || port == 0)
    throw UserError("--migrate-listen '" + address + "': use ADDR:PORT (e.g. 0.0.0.0:8002 or [::]:8002)");
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host, ec);
  if (ec) throw UserError("--migrate-listen '" + address + "': '" + host + "' is not an IP address");
  return {ip, port};
}
}  // namespace

MigrateListener::MigrateListener(asio::io_context& io, const std::string& address, const MigrateTls& tls,
                                 std::string incoming_dir, Exists exists, Restore restore)
    : shared_(std::make_shared<Shared>(
          Shared{make_tls_context(tls, true), std::move(incoming_dir), std::move(exists), std::move(restore), {}, 0, false})),
      acceptor_(io) {
  const tcp::endpoint ep = parse_listen(address);
  boost::system::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw UserError("--migrate-listen " + address + ": " + ec.message());
  log::info("migrations: listening on " + endpoint() + " (TLS 1.3, peers signed by the --migrate-ca)");
  accept();
}

MigrateListener::~MigrateListener() {
  shared_->closed = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

std::string MigrateListener::endpoint() const {
  boost::system::error_code ec;
  const auto ep = acceptor_.local_endpoint(ec);
  return ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

void MigrateListener::accept() {
  acceptor_.async_accept([this, shared = shared_](const boost::system::error_code& ec, tcp::socket sock) {
    if (shared->closed || ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (shared->sessions >= kMaxSessions) {
        log::warning("migration: a connection refused (" + std::to_string(kMaxSessions) + " under way already)");
      } else {
        std::make_shared<Session>(std::move(sock), shared)->start();
      }
    }
    accept();
  });
}

}  // namespace pv::pvd
