#include "guest_ring_link.h"

#include "pv/fd_passing.h"
#include "pv/files.h"
#include "pv/log.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace pv::pvd {
namespace {
using namespace std::chrono_literals;
constexpr int kMaxConnectAttempts = 100;  // x 20 ms: pv-hv has 2 s to listen
constexpr uint32_t kRing = xen::xenstore::kRingSize;
// Replies waiting for ring space beyond which requests are not read: a
// guest that never reads replies cannot make pvd buffer without bound.
constexpr size_t kMaxPendingOut = 64 * 1024;

uint32_t load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
}  // namespace

GuestRingLink::GuestRingLink(boost::asio::io_context& io, pv::xenstore::XenstoreServer& server, uint32_t domid,
                             std::string socket_path, std::string partial_path, ReadyFn on_ready)
    : io_(io), server_(server), domid_(domid), path_(std::move(socket_path)), on_ready_(std::move(on_ready)),
      sock_(io), retry_(io), partial_path_(std::move(partial_path)) {
  // Never from the constructor: on_ready must find this link registered.
  boost::asio::post(io_, [this, alive = alive_] {
    if (*alive) try_connect();
  });
}

GuestRingLink::~GuestRingLink() {
  *alive_ = false;
  boost::system::error_code ec;
  retry_.cancel();
  sock_.close(ec);
  if (conn_) server_.disconnect(*conn_);
}

void GuestRingLink::try_connect() {
  boost::system::error_code ec;
  sock_.close(ec);
  sock_.open(boost::asio::local::stream_protocol(), ec);
  if (!ec) sock_.connect(boost::asio::local::stream_protocol::endpoint(path_), ec);
  if (!ec && receive_hello()) {
    read_doorbells();
    on_ready_(hello_);
    return;
  }
  if (++attempts_ >= kMaxConnectAttempts) {
    pv::log::error("domain " + std::to_string(domid_) + ": no xenstore link at " + path_ + " (" + ec.message() + ")");
    return;
  }
  retry_.expires_after(20ms);
  retry_.async_wait([this, alive = alive_](const boost::system::error_code& e) {
    if (!e && *alive) try_connect();
  });
}

bool GuestRingLink::receive_hello() {
  const int fd = sock_.native_handle();
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return false;  // pv-hv sends it at once
  std::vector<UniqueFd> fds;
  if (recv_with_fds(fd, hello_, fds) != static_cast<ssize_t>(sizeof hello_) || fds.size() != 1) return false;
  const int memfd = fds[0].get();
  const bool sane = hello_.magic == xslink::kMagic && hello_.version == xslink::kVersion && hello_.domid == domid_ &&
                    hello_.ring_gfn < hello_.ram_bytes / xen::kPageSize;
  void* page = sane ? ::mmap(nullptr, xen::kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd,
                             static_cast<off_t>(hello_.ring_gfn * xen::kPageSize))
                    : MAP_FAILED;
  fds.clear();  // the mapping keeps just that page
  if (page == MAP_FAILED) {
    pv::log::error("domain " + std::to_string(domid_) + ": bad xenstore link hello");
    return false;
  }
  ring_page_ = Mapping(page, xen::kPageSize);
  ring_ = static_cast<xen::xenstore::domain_interface*>(page);
  return true;
}

void GuestRingLink::attach() {
  if (!ring_ || conn_) return;
  conn_ = server_.connect(static_cast<pv::xenstore::DomId>(domid_), "domain " + std::to_string(domid_));
  load_partial();
  // Watch events for this domain can come from anyone's writes.
  conn_->set_output_notifier([this, alive = alive_] {
    boost::asio::post(io_, [this, alive] {
      if (*alive) process();
    });
  });
  process();
}

void GuestRingLink::read_doorbells() {
  sock_.async_read_some(boost::asio::buffer(bells_),
                        [this, alive = alive_](const boost::system::error_code& ec, size_t) {
                          if (!*alive) return;
                          if (ec) return;  // pv-hv exited; the domain's end is handled by the DomainManager
                          process();
                          read_doorbells();
                        });
}

void GuestRingLink::broken(uint32_t error, const std::string& why) {
  pv::log::warning("domain " + std::to_string(domid_) + ": xenstore ring broken (" + why + "); connection closed");
  if (conn_) server_.disconnect(*conn_);
  conn_.reset();
  if (ring_) store(&ring_->error, error);
}

void GuestRingLink::process() {
  if (!ring_ || !conn_ || conn_->closed()) return;
  bool moved = false;
  // Requests: guest -> xenstored.
  uint32_t cons = load(&ring_->req_cons);
  const uint32_t prod = load(&ring_->req_prod);
  if (prod - cons > kRing) return broken(xen::xenstore::XENSTORE_ERROR_RINGIDX, "request indices prod " + std::to_string(prod) + " cons " + std::to_string(cons));
  // Whole requests only, but for one longer than the ring (class comment).
  std::string in;
  const std::string partial_before = partial_;
  while (server_.wants_input(*conn_) && out_.size() < kMaxPendingOut) {
    if (!partial_.empty()) {
      if (!take_partial(cons, prod, in)) break;
      continue;
    }
    if (prod - cons < sizeof(pv::xenstore::WireHeader)) break;
    pv::xenstore::WireHeader h{};
    std::string head = copy_request(cons, sizeof h);
    std::memcpy(&h, head.data(), sizeof h);
    if (h.len > pv::xenstore::kPayloadMax) {
      // Passed on with what is there: the server closes the connection.
      in += copy_request(cons, prod - cons);
      cons = prod;
      break;
    }
    const uint32_t total = static_cast<uint32_t>(sizeof h) + h.len;
    if (total > kRing) {
      partial_start_ = cons;
      if (!take_partial(cons, prod, in)) break;
      continue;
    }
    if (prod - cons < total) break;  // the rest is still being written
    in += copy_request(cons, total);
    cons += total;
  }
  if (partial_ != partial_before) save_partial();  // before req_cons says the bytes were taken
  if (cons != load(&ring_->req_cons)) {
    store(&ring_->req_cons, cons);
    moved = true;
  }
  if (!in.empty()) {
    server_.receive(*conn_, in);
    if (!conn_ || conn_->closed()) return broken(xen::xenstore::XENSTORE_ERROR_PROTO, "protocol error");
  }
  // Replies and watch events: xenstored -> guest, as far as they fit.
  out_ += conn_->take_output();
  const uint32_t rcons = load(&ring_->rsp_cons);
  uint32_t rprod = load(&ring_->rsp_prod);
  if (rprod - rcons > kRing) return broken(xen::xenstore::XENSTORE_ERROR_RINGIDX, "response indices prod " + std::to_string(rprod) + " cons " + std::to_string(rcons));
  size_t done = 0;
  while (done < out_.size() && rprod - rcons < kRing) {
    const uint32_t off = rprod & (kRing - 1);
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>({out_.size() - done, kRing - off, kRing - (rprod - rcons)}));
    std::memcpy(ring_->rsp + off, out_.data() + done, n);
    done += n;
    rprod += n;
  }
  if (done) {
    out_.erase(0, done);
    store(&ring_->rsp_prod, rprod);
    moved = true;
  }
  // More input may now be accepted (replies drained): go round again later.
  if (moved) ring_doorbell();
}

bool GuestRingLink::take_partial(uint32_t& cons, uint32_t prod, std::string& in) {
  pv::xenstore::WireHeader h{};
  if (partial_.empty()) {  // a new one: its header is in the ring
    partial_ = copy_request(cons, sizeof h);
    cons += sizeof h;
  }
  std::memcpy(&h, partial_.data(), sizeof h);
  const uint32_t need = static_cast<uint32_t>(sizeof h + h.len - partial_.size());
  const uint32_t n = std::min(need, prod - cons);
  partial_ += copy_request(cons, n);
  cons += n;
  if (n < need) return false;
  in += partial_;
  partial_.clear();
  return true;
}

void GuestRingLink::save_partial() const {
  std::error_code ec;
  if (partial_.empty()) {
    std::filesystem::remove(partial_path_, ec);
    return;
  }
  std::string bytes(sizeof partial_start_, '\0');
  std::memcpy(bytes.data(), &partial_start_, sizeof partial_start_);
  pv::write_file_atomically(partial_path_, bytes + partial_, 0600);
}

void GuestRingLink::load_partial() {
  partial_.clear();
  const std::string bytes = pv::read_file(partial_path_);
  if (bytes.empty()) return;
  pv::xenstore::WireHeader h{};
  if (bytes.size() >= sizeof partial_start_ + sizeof h) {
    std::memcpy(&partial_start_, bytes.data(), sizeof partial_start_);
    std::memcpy(&h, bytes.data() + sizeof partial_start_, sizeof h);
    const size_t kept = bytes.size() - sizeof partial_start_;
    const uint32_t taken = load(&ring_->req_cons) - partial_start_;
    // taken > kept: the request was whole and passed on before the file went.
    if (h.len <= pv::xenstore::kPayloadMax && kept <= sizeof h + h.len && taken <= kept && taken >= sizeof h)
      partial_ = bytes.substr(sizeof partial_start_, taken);
  }
  if (partial_.empty()) {
    std::error_code ec;
    std::filesystem::remove(partial_path_, ec);
    return;
  }
  pv::log::info("domain " + std::to_string(domid_) + ": carrying on with a " + std::to_string(sizeof h + h.len) +
                "-byte xenstore request, " + std::to_string(partial_.size()) + " bytes in");
}

std::string GuestRingLink::copy_request(uint32_t from, uint32_t n) const {
  std::string out;
  out.reserve(n);
  while (n > 0) {
    const uint32_t off = from & (kRing - 1);
    const uint32_t chunk = std::min(n, kRing - off);
    out.append(ring_->req + off, chunk);
    from += chunk;
    n -= chunk;
  }
  return out;
}

void GuestRingLink::ring_doorbell() {
  const char bell = 'k';
  ::send(sock_.native_handle(), &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

}  // namespace pv::pvd
