// pvguest: event channel upcall handling and EVTCHNOP wrappers.
#include "events.h"

#include "arch.h"
#include "hypercall.h"
#include "kernel.h"
#include "pvtime.h"

namespace evt {

PortStat ports[kNrPorts];

void init() {
  for (unsigned w = 0; w < xen::kEvtchnWordBits; w++) k::shinfo->evtchn_mask[w] = ~0ull;
  for (unsigned p = 0; p < kNrPorts; p++) ports[p].bound_cpu = 0;
  arch::mb();
}

void set_binding(xen::evtchn_port_t port, unsigned cpu) {
  if (port < kNrPorts) ports[port].bound_cpu = uint8_t(cpu);
}

static void dispatch(unsigned cpu, xen::evtchn_port_t port) {
  ports[port].last_cpu = cpu;
  arch::atomic_inc(&ports[port].hits);
  if (port == k::cpus[cpu].timer_port && port != 0) timer::on_timer(cpu);
}

// Xen's callback-vector protocol: clear upcall_pending, take the selector,
// then scan and clear pending bits of unmasked ports bound to this vCPU.
void upcall(unsigned cpu, unsigned vector_index) {
  k::PerCpu& pc = k::cpus[cpu];
  volatile xen::vcpu_info* vi = pc.vi ? pc.vi : &k::shinfo->vcpu_info[cpu];
  volatile xen::shared_info* sh = k::shinfo;
  arch::atomic_inc(&pc.upcalls_by_vector[vector_index]);
  do {
    vi->evtchn_upcall_pending = 0;
    arch::mb();
    uint64_t sel = arch::xchg64(&vi->evtchn_pending_sel, 0);
    while (sel) {
      unsigned w = arch::ffs64(sel);
      sel &= sel - 1;
      uint64_t active = sh->evtchn_pending[w] & ~sh->evtchn_mask[w];
      while (active) {
        unsigned b = arch::ffs64(active);
        active &= active - 1;
        xen::evtchn_port_t port = w * 64 + b;
        if (ports[port].bound_cpu != cpu) continue;  // another vCPU's port
        if (arch::test_and_clear_bit(port, sh->evtchn_pending)) dispatch(cpu, port);
      }
    }
  } while (vi->evtchn_upcall_pending);
}

long send(xen::evtchn_port_t port) {
  xen::evtchn::send s{port};
  return hv::evtchn_op(xen::evtchn::op::send, &s);
}
long close(xen::evtchn_port_t port) {
  // Keep the invariant "every port we are not using is masked": the number
  // may be handed out again, and a new binding can start out pending.
  mask(port);
  xen::evtchn::close c{port};
  return hv::evtchn_op(xen::evtchn::op::close, &c);
}
long unmask(xen::evtchn_port_t port) {
  xen::evtchn::unmask u{port};
  return hv::evtchn_op(xen::evtchn::op::unmask, &u);
}
void mask(xen::evtchn_port_t port) {
  if (port < kNrPorts) arch::test_and_set_bit(port, k::shinfo->evtchn_mask);
}
bool is_pending(xen::evtchn_port_t port) {
  return port < kNrPorts && arch::test_bit(port, k::shinfo->evtchn_pending);
}
bool is_masked(xen::evtchn_port_t port) { return port < kNrPorts && arch::test_bit(port, k::shinfo->evtchn_mask); }

long alloc_unbound(xen::evtchn_port_t& port) {
  xen::evtchn::alloc_unbound a{xen::DOMID_SELF, xen::DOMID_SELF, 0};
  long rc = hv::evtchn_op(xen::evtchn::op::alloc_unbound, &a);
  if (rc == 0) {
    port = a.port;
    set_binding(port, 0);
  }
  return rc;
}
long bind_interdomain(xen::evtchn_port_t remote, xen::evtchn_port_t& local) {
  xen::evtchn::bind_interdomain b{xen::DOMID_SELF, remote, 0};
  long rc = hv::evtchn_op(xen::evtchn::op::bind_interdomain, &b);
  if (rc == 0) {
    local = b.local_port;
    set_binding(local, 0);
  }
  return rc;
}
long loopback_pair(xen::evtchn_port_t& a, xen::evtchn_port_t& b, bool masked) {
  long rc = alloc_unbound(a);
  if (rc) return rc;
  rc = bind_interdomain(a, b);
  if (rc) return rc;
  // Xen (and pv-hv) leave the new local end pending so no event is lost;
  // both ends are still masked here, so drop that stale event.
  arch::test_and_clear_bit(b, k::shinfo->evtchn_pending);
  if (!masked) {
    if ((rc = unmask(a)) != 0) return rc;
    if ((rc = unmask(b)) != 0) return rc;
  }
  return 0;
}
long bind_ipi(unsigned vcpu, xen::evtchn_port_t& port) {
  xen::evtchn::bind_ipi b{vcpu, 0};
  long rc = hv::evtchn_op(xen::evtchn::op::bind_ipi, &b);
  if (rc == 0) {
    port = b.port;
    set_binding(port, vcpu);
  }
  return rc;
}
long bind_vcpu(xen::evtchn_port_t port, unsigned vcpu) {
  set_binding(port, vcpu);
  xen::evtchn::bind_vcpu b{port, vcpu};
  return hv::evtchn_op(xen::evtchn::op::bind_vcpu, &b);
}
long status(xen::evtchn_port_t port, xen::evtchn::status& st) {
  st = {};
  st.dom = xen::DOMID_SELF;
  st.port = port;
  return hv::evtchn_op(xen::evtchn::op::status, &st);
}

// The hit counter is checked before the clock is read, and the clock only
// every 64 spins: under an emulating KVM one pvclock read is ~50 guest
// instructions (tens of microseconds), far more than the wait itself when the
// upcall has already run.
bool wait_hit(xen::evtchn_port_t port, uint64_t old, uint64_t timeout_ns) {
  if (ports[port].hits > old) return true;
  uint64_t end = pvclock::now() + timeout_ns;
  for (unsigned spin = 0; ports[port].hits <= old; spin++) {
    if ((spin & 63) == 63 && pvclock::now() > end) return ports[port].hits > old;
    arch::pause();
  }
  return true;
}

}  // namespace evt
