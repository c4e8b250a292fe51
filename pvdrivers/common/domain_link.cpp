#include "common/domain_link.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "pv/backend_link_protocol.h"
#include "pv/error.h"
#include "pv/fd_passing.h"

namespace pv {
namespace G = xen::gnttab;

namespace {
const char* gntst_name(int16_t st) {
  switch (st) {
    case G::st::bad_gntref: return "bad grant reference";
    case G::st::permission_denied: return "permission denied (read-only grant)";
    case G::st::bad_page: return "grant names a frame outside guest RAM";
    case G::st::general_error: return "not granted to the back-end";
    case G::st::no_device_space: return "too many uses of one grant";
    default: return "grant error";
  }
}
}  // namespace

// ---- BoundEvtchn ----
BoundEvtchn::BoundEvtchn(std::shared_ptr<DomainLink> link, uint32_t port, UniqueFd to_guest, UniqueFd from_guest)
    : link_(std::move(link)), port_(port), to_guest_(std::move(to_guest)), from_guest_(std::move(from_guest)) {}

BoundEvtchn::~BoundEvtchn() {
  if (link_ && link_->alive()) link_->unbind(port_);
}

void BoundEvtchn::notify() const {
  const uint64_t one = 1;
  (void)!::write(to_guest_.get(), &one, sizeof one);
}

bool BoundEvtchn::consume_kick() const {
  uint64_t n = 0;
  return ::read(from_guest_.get(), &n, sizeof n) == sizeof n && n > 0;
}

// ---- MappedGrant ----
MappedGrant& MappedGrant::operator=(MappedGrant&& o) noexcept {
  if (this != &o) {
    reset();
    access_ = std::exchange(o.access_, nullptr);
    ref_ = o.ref_;
    write_ = o.write_;
    page_ = std::exchange(o.page_, nullptr);
  }
  return *this;
}

void MappedGrant::reset() {
  if (page_ && access_) {
    if (write_) access_->mark_written(page_);  // for a live migration's pre-copy
    access_->release(ref_, write_);
  }
  page_ = nullptr;
  access_ = nullptr;
}

// ---- DomainLink ----
std::shared_ptr<DomainLink> DomainLink::connect(const std::string& socket_path, uint32_t domid) {
  const std::string who = "domain " + std::to_string(domid);
  std::shared_ptr<DomainLink> l(new DomainLink());
  l->domid_ = domid;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path)) throw UserError(who + ": back-end socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  l->sock_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!l->sock_) throw_errno("socket(back-end link)");
  if (::connect(l->sock_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw_errno(who + ": cannot reach its pv-hv at " + socket_path);
  belink::Hello hello{};
  std::vector<UniqueFd> fds;
  if (recv_with_fds(l->sock_.get(), hello, fds) != sizeof hello || fds.size() != 2 || hello.magic != belink::kMagic ||
      hello.version != belink::kVersion)
    throw UserError(who + ": pv-hv's back-end link sent no valid hello");
  if (hello.domid != domid)
    throw UserError(who + ": back-end socket " + socket_path + " serves domain " + std::to_string(hello.domid));
  struct stat st{};
  if (::fstat(fds[0].get(), &st) != 0 || uint64_t(st.st_size) < hello.ram_bytes || ::fstat(fds[1].get(), &st) != 0 ||
      uint64_t(st.st_size) < hello.grant_bytes || hello.grant_bytes < GrantShared::kPinsOffset)
    throw UserError(who + ": back-end link memory is smaller than announced");
  void* ram = ::mmap(nullptr, hello.ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0].get(), 0);
  if (ram == MAP_FAILED) throw_errno(who + ": mmap(guest RAM)");
  l->ram_ = Mapping(ram, hello.ram_bytes);
  void* gs = ::mmap(nullptr, hello.grant_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1].get(), 0);
  if (gs == MAP_FAILED) throw_errno(who + ": mmap(grant state)");
  l->grant_state_ = Mapping(gs, hello.grant_bytes);
  auto* shared = reinterpret_cast<GrantShared*>(gs);
  if (shared->magic != GrantShared::kMagic || GrantShared::bytes_for(shared->max_frames, hello.ram_bytes >> 12) > hello.grant_bytes)
    throw UserError(who + ": grant state has a bad header");
  l->ram_fd_ = std::move(fds[0]);
  l->access_ = std::make_unique<GrantAccess>(l->ram_.data(), l->ram_.size(), shared);
  return l;
}

DomainLink::~DomainLink() = default;

bool DomainLink::alive() const {
  std::lock_guard lk(mu_);
  if (!sock_) return false;
  pollfd p{sock_.get(), POLLIN, 0};
  return !(::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)));
}

MappedGrant map_granted_page(GrantAccess& grants, xen::grant_ref_t ref, bool write, int16_t* status) {
  uint64_t gfn = 0;
  const int16_t st = grants.acquire(ref, 0, write, gfn);
  if (status) *status = st;
  if (st != G::st::okay) return {};
  uint8_t* page = grants.page(gfn);
  if (!page) {  // acquire() checked the frame; never trust twice, though
    grants.release(ref, write);
    if (status) *status = G::st::bad_page;
    return {};
  }
  return MappedGrant(&grants, ref, write, page);
}

MappedGrant DomainLink::map_grant(xen::grant_ref_t ref, bool write, int16_t* status) {
  return map_granted_page(*access_, ref, write, status);
}

RingMapping DomainLink::map_ring(const std::vector<xen::grant_ref_t>& refs) {
  const std::string who = "domain " + std::to_string(domid_);
  if (refs.empty() || refs.size() > 64) throw UserError(who + ": bad number of ring pages");
  const size_t bytes = refs.size() * xen::kPageSize;
  // Reserve a range, then put each granted guest page at its place in it.
  void* base = ::mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) throw_errno(who + ": mmap(ring)");
  Mapping map(base, bytes);
  std::vector<MappedGrant> grants;
  for (size_t i = 0; i < refs.size(); i++) {
    uint64_t gfn = 0;
    const int16_t st = access_->acquire(refs[i], 0, true, gfn);
    if (st != G::st::okay)
      throw UserError(who + ": ring-ref " + std::to_string(refs[i]) + ": " + gntst_name(st));
    grants.emplace_back(access_.get(), refs[i], true, access_->page(gfn));
    void* at = static_cast<uint8_t*>(base) + i * xen::kPageSize;
    if (::mmap(at, xen::kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram_fd_.get(),
               static_cast<off_t>(gfn << xen::kPageShift)) == MAP_FAILED)
      throw_errno(who + ": mmap(ring page)");
  }
  return RingMapping(std::move(map), std::move(grants));
}

int32_t DomainLink::call(uint32_t op, uint32_t port, const std::vector<int>& fds) {
  std::lock_guard lk(mu_);
  const belink::Request req{static_cast<belink::Op>(op), port, next_cookie_++};
  if (!send_with_fds(sock_.get(), req, fds)) return -xen::XEN_EIO;
  belink::Reply rep{};
  std::vector<UniqueFd> none;
  if (recv_with_fds(sock_.get(), rep, none) != sizeof rep || rep.cookie != req.cookie) return -xen::XEN_EIO;
  return rep.status;
}

std::unique_ptr<BoundEvtchn> DomainLink::bind(uint32_t port) {
  UniqueFd to_guest(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), from_guest(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!to_guest || !from_guest) throw_errno("eventfd(event channel)");
  const int32_t rc = call(uint32_t(belink::Op::kBindEvtchn), port, {to_guest.get(), from_guest.get()});
  if (rc != 0)
    throw UserError("domain " + std::to_string(domid_) + ": cannot bind event channel " + std::to_string(port) +
                    (rc == -xen::XEN_EINVAL ? ": not a port the guest allocated for dom0"
                                            : ": error " + std::to_string(rc)));
  return std::make_unique<BoundEvtchn>(shared_from_this(), port, std::move(to_guest), std::move(from_guest));
}

void DomainLink::unbind(uint32_t port) { call(uint32_t(belink::Op::kUnbindEvtchn), port, {}); }

}  // namespace pv
