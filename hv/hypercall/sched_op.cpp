// HYPERVISOR_sched_op(cmd, arg): yielding, blocking, polling, shutdown and
// the domain watchdog.
#include <sched.h>

#include <vector>

#include <xen/sched.h>

#include "cpu/vcpu.h"
#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace S = xen::sched;

namespace {
constexpr uint32_t kMaxPollPorts = 128;  // as Xen
}

int64_t do_sched_op(Hypercall& hc) {
  switch (hc.arg[0]) {
    case S::op::yield:
      sched_yield();
      return 0;
    case S::op::block:
      hc.vcpu.block_until_event();
      return 0;
    case S::op::poll: {
      S::poll p;
      if (!hc.guest.get(hc.arg[1], p)) return -xen::XEN_EFAULT;
      if (p.nr_ports > kMaxPollPorts) return -xen::XEN_EINVAL;
      std::vector<uint32_t> ports(p.nr_ports);
      if (!hc.guest.read(p.ports, ports.data(), ports.size() * sizeof(uint32_t))) return -xen::XEN_EFAULT;
      for (uint32_t port : ports)
        if (port >= hc.dom.evtchn().max_ports()) return -xen::XEN_EINVAL;
      hc.vcpu.poll(ports.data(), p.nr_ports, p.timeout);
      return 0;
    }
    case S::op::shutdown: {
      S::shutdown s;
      if (!hc.guest.get(hc.arg[1], s)) return -xen::XEN_EFAULT;
      if (s.reason > xen::shutdown::max) return -xen::XEN_EINVAL;
      // A save or checkpoint waits for this suspend: the vCPU is held until
      // it is done, and the guest learns how it went (1: cancelled, go on).
      if (s.reason == xen::shutdown::suspend)
        if (auto result = hc.dom.suspend_gate().hold(hc.vcpu.id())) return *result;
      hc.dom.shutdown(s.reason, "requested by the guest");
      return 0;
    }
    case S::op::watchdog: {
      S::watchdog w;
      if (!hc.guest.get(hc.arg[1], w)) return -xen::XEN_EFAULT;
      return hc.dom.watchdog(w.id, w.timeout);
    }
    case S::op::remote_shutdown:
      return -xen::XEN_EPERM;  // dom0's only
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
