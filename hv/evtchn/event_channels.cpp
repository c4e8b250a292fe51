#include "evtchn/event_channels.h"

#include <cstring>

#include "pv/error.h"

namespace pv {
namespace {

constexpr unsigned kBits = xen::kEvtchnWordBits;

bool test_and_set(uint64_t* word, unsigned bit) {
  return __atomic_fetch_or(word, uint64_t{1} << bit, __ATOMIC_SEQ_CST) & (uint64_t{1} << bit);
}
bool test_and_clear(uint64_t* word, unsigned bit) {
  return __atomic_fetch_and(word, ~(uint64_t{1} << bit), __ATOMIC_SEQ_CST) & (uint64_t{1} << bit);
}
bool test(const uint64_t* word, unsigned bit) {
  return __atomic_load_n(word, __ATOMIC_SEQ_CST) & (uint64_t{1} << bit);
}

}  // namespace

EventChannels::EventChannels(xen::domid_t domid, uint32_t nr_vcpus, KickFn kick, uint32_t max_ports)
    : domid_(domid),
      nr_vcpus_(nr_vcpus),
      kick_(std::move(kick)),
      ports_(std::min<uint32_t>(max_ports, xen::EVTCHN_2L_NR_CHANNELS)),
      virq_port_(nr_vcpus, std::vector<int32_t>(xen::virq::NR, -1)),
      vcpu_info_(nr_vcpus) {
  ports_[0].state = State::kReserved;  // port 0 is never handed out
}

void EventChannels::set_shared_info(xen::shared_info* s) {
  std::lock_guard lk(mu_);
  shared_.store(s, std::memory_order_release);
}

void EventChannels::set_vcpu_info(uint32_t vcpu, xen::vcpu_info* v) {
  std::lock_guard lk(mu_);
  if (vcpu < nr_vcpus_) vcpu_info_[vcpu].store(v, std::memory_order_release);
}

void EventChannels::move_shared_info(xen::shared_info* to) {
  std::lock_guard lk(mu_);
  xen::shared_info* from = shared_info();
  if (from == to) return;
  if (from) std::memmove(to, from, sizeof(xen::shared_info));
  else std::memset(to, 0, sizeof(xen::shared_info));
  for (uint32_t v = 0; v < nr_vcpus_; v++)
    if (from && v < xen::XEN_LEGACY_MAX_VCPUS && vcpu_info_[v].load() == &from->vcpu_info[v])
      vcpu_info_[v].store(&to->vcpu_info[v]);
  shared_.store(to, std::memory_order_release);
}

void EventChannels::move_vcpu_info(uint32_t vcpu, xen::vcpu_info* to) {
  {
    std::lock_guard lk(mu_);
    if (vcpu >= nr_vcpus_) return;
    xen::vcpu_info* from = vcpu_info_[vcpu].load();
    if (from != to) {
      if (from) std::memmove(to, from, sizeof(xen::vcpu_info));
      else std::memset(to, 0, sizeof(xen::vcpu_info));
    }
    vcpu_info_[vcpu].store(to, std::memory_order_release);
  }
  mark_all_pending(vcpu);
}

xen::vcpu_info* EventChannels::vcpu_info(uint32_t vcpu) const {
  return vcpu < nr_vcpus_ ? vcpu_info_[vcpu].load(std::memory_order_acquire) : nullptr;
}

int64_t EventChannels::alloc_port() {
  for (uint32_t p = 1; p < ports_.size(); p++)
    if (ports_[p].state == State::kFree) return p;
  return -xen::XEN_ENOSPC;
}

void EventChannels::free_port(xen::evtchn_port_t port) {
  ports_[port] = Port{};
  if (xen::shared_info* s = shared_info()) test_and_clear(&s->evtchn_pending[port / kBits], port % kBits);
}

// Xen's 2-level protocol: pending bit, then (if unmasked) the vCPU's
// selector bit, then its upcall flag; kick only on the 0 -> 1 edge.
void EventChannels::set_pending(xen::evtchn_port_t port) {
  xen::shared_info* s = shared_info();
  if (!s) return;
  const unsigned word = port / kBits, bit = port % kBits;
  if (test_and_set(&s->evtchn_pending[word], bit)) return;
  if (test(&s->evtchn_mask[word], bit)) {
    kick_(UINT32_MAX);  // wakes pollers only
    return;
  }
  mark_vcpu_pending(ports_[port].vcpu, word);
}

void EventChannels::mark_vcpu_pending(uint32_t vcpu, unsigned word) {
  xen::vcpu_info* vi = vcpu_info(vcpu);
  if (vi && !test_and_set(&vi->evtchn_pending_sel, word) &&
      __atomic_exchange_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST) == 0) {
    kick_(vcpu);
    return;
  }
  kick_(UINT32_MAX);
}

void EventChannels::mark_all_pending(uint32_t vcpu) {
  std::lock_guard lk(mu_);
  xen::vcpu_info* vi = vcpu_info(vcpu);
  if (!vi) return;
  __atomic_store_n(&vi->evtchn_pending_sel, ~uint64_t{0}, __ATOMIC_SEQ_CST);
  __atomic_store_n(&vi->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST);
  kick_(vcpu);
}

int64_t EventChannels::alloc_unbound(xen::evtchn::alloc_unbound& a) {
  if (!own_domain(a.dom)) return -xen::XEN_EPERM;
  xen::domid_t remote = a.remote_dom == xen::DOMID_SELF ? domid_ : a.remote_dom;
  // Peers a domain can reach: itself and dom0 (the host's back-ends).
  if (remote != domid_ && remote != 0) return -xen::XEN_ESRCH;
  std::lock_guard lk(mu_);
  int64_t p = alloc_port();
  if (p < 0) return p;
  ports_[p] = Port{State::kUnbound, 0, remote, 0, 0, -1};
  a.port = static_cast<xen::evtchn_port_t>(p);
  return 0;
}

int64_t EventChannels::bind_interdomain(xen::evtchn::bind_interdomain& b) {
  if (!own_domain(b.remote_dom)) return b.remote_dom == 0 ? -xen::XEN_EINVAL : -xen::XEN_ESRCH;
  std::lock_guard lk(mu_);
  const uint32_t rp = b.remote_port;
  if (!valid(rp) || ports_[rp].state != State::kUnbound || ports_[rp].remote_dom != domid_) return -xen::XEN_EINVAL;
  int64_t lp = alloc_port();
  if (lp < 0) return lp;
  ports_[lp] = Port{State::kInterdomain, 0, domid_, rp, 0, -1};
  ports_[rp].state = State::kInterdomain;
  ports_[rp].remote_port = static_cast<uint32_t>(lp);
  b.local_port = static_cast<xen::evtchn_port_t>(lp);
  // As Xen does: the new local end starts pending so no event is lost.
  set_pending(b.local_port);
  return 0;
}

int64_t EventChannels::bind_virq(xen::evtchn::bind_virq& b) {
  // Xen's order: bad VIRQ, then a global VIRQ off vCPU 0, then no such vCPU.
  if (b.virq >= xen::virq::NR) return -xen::XEN_EINVAL;
  if (!xen::virq::is_per_vcpu(b.virq) && b.vcpu != 0) return -xen::XEN_EINVAL;
  if (b.vcpu >= nr_vcpus_) return -xen::XEN_ENOENT;
  std::lock_guard lk(mu_);
  if (virq_port_[b.vcpu][b.virq] >= 0) return -xen::XEN_EEXIST;
  int64_t p = alloc_port();
  if (p < 0) return p;
  ports_[p] = Port{State::kVirq, b.vcpu, 0, 0, b.virq, -1};
  virq_port_[b.vcpu][b.virq] = static_cast<int32_t>(p);
  b.port = static_cast<xen::evtchn_port_t>(p);
  return 0;
}

int64_t EventChannels::bind_ipi(xen::evtchn::bind_ipi& b) {
  if (b.vcpu >= nr_vcpus_) return -xen::XEN_ENOENT;
  std::lock_guard lk(mu_);
  int64_t p = alloc_port();
  if (p < 0) return p;
  ports_[p] = Port{State::kIpi, b.vcpu, 0, 0, 0, -1};
  b.port = static_cast<xen::evtchn_port_t>(p);
  return 0;
}

int64_t EventChannels::close(xen::evtchn_port_t port) {
  std::lock_guard lk(mu_);
  if (!valid(port)) return -xen::XEN_EINVAL;
  Port& p = ports_[port];
  switch (p.state) {
    case State::kFree:
    case State::kReserved:
      return -xen::XEN_EINVAL;
    case State::kVirq:
      virq_port_[virq_table(p)][p.virq] = -1;
      break;
    case State::kInterdomain:
      if (p.host < 0) {
        // The far end in this domain goes back to unbound, as in Xen.
        Port& far = ports_[p.remote_port];
        far.state = State::kUnbound;
        far.remote_dom = domid_;
        far.remote_port = 0;
      } else {
        host_handlers_[p.host] = nullptr;
      }
      break;
    case State::kUnbound:
    case State::kIpi:
      break;
  }
  free_port(port);
  return 0;
}

int64_t EventChannels::send(xen::evtchn_port_t port) {
  HostHandler handler;
  {
    std::lock_guard lk(mu_);
    if (!valid(port)) return -xen::XEN_EINVAL;
    const Port& p = ports_[port];
    switch (p.state) {
      case State::kInterdomain:
        if (p.host < 0) {
          set_pending(p.remote_port);
          return 0;
        }
        handler = host_handlers_[p.host];
        break;
      case State::kIpi:
        set_pending(port);
        return 0;
      case State::kUnbound:
        return 0;  // nobody listens yet: dropped, as Xen does
      default:
        return -xen::XEN_EINVAL;
    }
  }
  if (handler) handler();  // outside the lock: the handler may raise()
  return 0;
}

int64_t EventChannels::status(xen::evtchn::status& s) {
  if (!own_domain(s.dom)) return -xen::XEN_ESRCH;
  std::lock_guard lk(mu_);
  if (!valid(s.port)) return -xen::XEN_EINVAL;
  const Port& p = ports_[s.port];
  s.u = {};
  s.vcpu = p.vcpu;
  switch (p.state) {
    case State::kFree:
    case State::kReserved:
      s.status = xen::evtchn::stat::closed;
      break;
    case State::kUnbound:
      s.status = xen::evtchn::stat::unbound;
      s.u.unbound.dom = p.remote_dom;
      break;
    case State::kInterdomain:
      s.status = xen::evtchn::stat::interdomain;
      s.u.interdomain.dom = p.host >= 0 ? 0 : p.remote_dom;
      s.u.interdomain.port = p.host >= 0 ? 0 : p.remote_port;
      break;
    case State::kVirq:
      s.status = xen::evtchn::stat::virq;
      s.u.virq = p.virq;
      break;
    case State::kIpi:
      s.status = xen::evtchn::stat::ipi;
      break;
  }
  return 0;
}

int64_t EventChannels::bind_vcpu(xen::evtchn_port_t port, uint32_t vcpu) {
  if (vcpu >= nr_vcpus_) return -xen::XEN_ENOENT;
  std::lock_guard lk(mu_);
  if (!valid(port)) return -xen::XEN_EINVAL;
  Port& p = ports_[port];
  switch (p.state) {
    case State::kVirq:
      // A global VIRQ stays bound in vCPU 0's table; only delivery moves.
      if (xen::virq::is_per_vcpu(p.virq)) return -xen::XEN_EINVAL;
      break;
    case State::kUnbound:
    case State::kInterdomain:
      break;
    default:
      return -xen::XEN_EINVAL;
  }
  p.vcpu = vcpu;
  // An event already pending follows the port to its new vCPU.
  xen::shared_info* s = shared_info();
  if (s && test(&s->evtchn_pending[port / kBits], port % kBits) && !test(&s->evtchn_mask[port / kBits], port % kBits))
    mark_vcpu_pending(vcpu, port / kBits);
  return 0;
}

int64_t EventChannels::unmask(xen::evtchn_port_t port) {
  std::lock_guard lk(mu_);
  if (!valid(port)) return -xen::XEN_EINVAL;
  xen::shared_info* s = shared_info();
  if (!s) return 0;
  const unsigned word = port / kBits, bit = port % kBits;
  if (test_and_clear(&s->evtchn_mask[word], bit) && test(&s->evtchn_pending[word], bit))
    mark_vcpu_pending(ports_[port].vcpu, word);
  return 0;
}

xen::evtchn_port_t EventChannels::connect_host(HostHandler on_send) {
  std::lock_guard lk(mu_);
  int64_t p = alloc_port();
  if (p < 0) throw UserError("no free event channel for a host device (the domain has used all its ports)");
  host_handlers_.push_back(std::move(on_send));
  ports_[p] = Port{State::kInterdomain, 0, 0, 0, 0, static_cast<int32_t>(host_handlers_.size() - 1)};
  return static_cast<xen::evtchn_port_t>(p);
}

bool EventChannels::raise(xen::evtchn_port_t port) {
  std::lock_guard lk(mu_);
  if (!valid(port) || ports_[port].state != State::kInterdomain || ports_[port].host < 0) return false;
  set_pending(port);
  return true;
}

int64_t EventChannels::bind_host(xen::evtchn_port_t port, HostHandler on_send, int32_t& token) {
  std::lock_guard lk(mu_);
  if (!valid(port)) return -xen::XEN_EINVAL;
  Port& p = ports_[port];
  if (p.state != State::kUnbound || p.remote_dom != 0) return -xen::XEN_EINVAL;
  host_handlers_.push_back(std::move(on_send));
  token = static_cast<int32_t>(host_handlers_.size() - 1);
  p.state = State::kInterdomain;
  p.remote_port = 0;
  p.host = token;
  return 0;
}

bool EventChannels::raise_host(xen::evtchn_port_t port, int32_t token) {
  std::lock_guard lk(mu_);
  if (!valid(port) || ports_[port].state != State::kInterdomain || ports_[port].host != token) return false;
  set_pending(port);
  return true;
}

void EventChannels::unbind_host(xen::evtchn_port_t port, int32_t token) {
  std::lock_guard lk(mu_);
  if (!valid(port) || ports_[port].state != State::kInterdomain || ports_[port].host != token) return;
  Port& p = ports_[port];
  host_handlers_[token] = nullptr;
  p.state = State::kUnbound;
  p.remote_dom = 0;
  p.host = -1;
}

bool EventChannels::raise_virq(uint32_t virq, uint32_t vcpu) {
  std::lock_guard lk(mu_);
  if (vcpu >= nr_vcpus_ || virq >= xen::virq::NR) return false;
  int32_t p = virq_port_[vcpu][virq];
  if (p < 0) return false;
  set_pending(static_cast<xen::evtchn_port_t>(p));
  return true;
}

bool EventChannels::is_pending(xen::evtchn_port_t port) const {
  xen::shared_info* s = shared_info();
  return valid(port) && s && test(&s->evtchn_pending[port / kBits], port % kBits);
}

}  // namespace pv
