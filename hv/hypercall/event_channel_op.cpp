// HYPERVISOR_event_channel_op(cmd, arg): each command copies its argument
// structure in, runs on the domain's EventChannels, and copies results out.
#include <xen/event_channel.h>

#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace EV = xen::evtchn;

namespace {
// In/out argument: read, apply `op`, and write back on success.
template <typename T, typename Op>
int64_t inout(Hypercall& hc, Op op) {
  T a;
  if (!hc.guest.get(hc.arg[1], a)) return -xen::XEN_EFAULT;
  int64_t rc = op(a);
  if (rc == 0 && !hc.guest.put(hc.arg[1], a)) return -xen::XEN_EFAULT;
  return rc;
}
// Input-only argument.
template <typename T, typename Op>
int64_t in(Hypercall& hc, Op op) {
  T a;
  if (!hc.guest.get(hc.arg[1], a)) return -xen::XEN_EFAULT;
  return op(a);
}
}  // namespace

int64_t do_event_channel_op(Hypercall& hc) {
  EventChannels& ev = hc.dom.evtchn();
  switch (hc.arg[0]) {
    case EV::op::alloc_unbound:
      return inout<EV::alloc_unbound>(hc, [&](auto& a) { return ev.alloc_unbound(a); });
    case EV::op::bind_interdomain:
      return inout<EV::bind_interdomain>(hc, [&](auto& a) { return ev.bind_interdomain(a); });
    case EV::op::bind_virq:
      return inout<EV::bind_virq>(hc, [&](auto& a) { return ev.bind_virq(a); });
    case EV::op::bind_ipi:
      return inout<EV::bind_ipi>(hc, [&](auto& a) { return ev.bind_ipi(a); });
    case EV::op::status:
      return inout<EV::status>(hc, [&](auto& a) { return ev.status(a); });
    case EV::op::close:
      return in<EV::close>(hc, [&](auto& a) { return ev.close(a.port); });
    case EV::op::send:
      return in<EV::send>(hc, [&](auto& a) { return ev.send(a.port); });
    case EV::op::unmask:
      return in<EV::unmask>(hc, [&](auto& a) { return ev.unmask(a.port); });
    case EV::op::bind_vcpu:
      return in<EV::bind_vcpu>(hc, [&](auto& a) { return ev.bind_vcpu(a.port, a.vcpu); });
    default:
      // Includes the FIFO ABI (init_control, expand_array): guests then
      // fall back to the 2-level ABI.
      return hc.unimplemented();
  }
}

}  // namespace pv
