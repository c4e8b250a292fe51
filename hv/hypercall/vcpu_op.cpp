// HYPERVISOR_vcpu_op(cmd, vcpuid, arg): vcpu_info placement, timers,
// bringing secondary vCPUs up and down, and the runstate (cpu/runstate.h).
#include <xen/hvm.h>
#include <xen/vcpu.h>

#include <algorithm>

#include "cpu/vcpu.h"
#include "domain.h"
#include "memory/reservation.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace VC = xen::vcpu;

namespace {
constexpr uint64_t kMinPeriodNs = 1'000'000;             // Xen: 1 ms
constexpr uint64_t kMaxDeltaNs = (1ull << 62) - 1;       // beyond this a deadline is nonsense

// The guest-virtual runstate area, as up to two guest-physical pieces it
// maps to now (the mapping of a kernel's per-CPU data does not change).
// Each piece must be populated RAM a guest may place a Xen page at.
int64_t register_runstate_area(Hypercall& hc, Vcpu& v) {
  VC::register_runstate_memory_area a;
  if (!hc.guest.get(hc.arg[2], a)) return -xen::XEN_EFAULT;
  const uint64_t now = hc.dom.clock().now_ns();
  if (a.addr == 0) {  // none any more
    v.runstate().set_area(0, 0, 0, 0, now);
    return 0;
  }
  constexpr uint32_t kLen = sizeof(xen::vcpu_runstate_info);
  if (a.addr + kLen < a.addr) return -xen::XEN_EFAULT;
  const uint32_t len0 = static_cast<uint32_t>(std::min<uint64_t>(kLen, xen::kPageSize - (a.addr & (xen::kPageSize - 1))));
  const auto gpa0 = hc.guest.gpa_of(a.addr, true);
  const auto gpa1 = len0 < kLen ? hc.guest.gpa_of(a.addr + len0, true) : std::optional<uint64_t>(0);
  if (!gpa0 || !gpa1) return -xen::XEN_EFAULT;
  for (auto [gpa, len] : {std::pair{*gpa0, len0}, std::pair{*gpa1, kLen - len0}}) {
    if (!len) continue;
    const uint64_t gfn = gpa >> xen::kPageShift;
    if (!hc.dom.memory().host(gpa, len) || !hc.dom.is_placeable_gfn(gfn) || !hc.dom.reservation().populated(gfn))
      return -xen::XEN_EINVAL;
  }
  v.runstate().set_area(*gpa0, len0, *gpa1, kLen - len0, now);
  return 0;
}
}  // namespace

int64_t do_vcpu_op(Hypercall& hc) {
  const uint64_t cmd = hc.arg[0];
  Vcpu* v = hc.dom.vcpu(hc.arg[1]);
  if (!v) return -xen::XEN_ENOENT;
  const uint32_t id = v->id();
  switch (cmd) {
    case VC::op::register_vcpu_info: {
      VC::register_vcpu_info r;
      if (!hc.guest.get(hc.arg[2], r)) return -xen::XEN_EFAULT;
      return hc.dom.register_vcpu_info(id, r.mfn, r.offset);
    }
    case VC::op::set_singleshot_timer: {
      VC::set_singleshot_timer t;
      if (!hc.guest.get(hc.arg[2], t)) return -xen::XEN_EFAULT;
      if (id != hc.vcpu.id()) return -xen::XEN_EINVAL;  // only a vCPU's own timer
      if ((t.flags & VC::VCPU_SSHOTTMR_future) && t.timeout_abs_ns < hc.dom.clock().now_ns()) return -xen::XEN_ETIME;
      if (t.timeout_abs_ns > kMaxDeltaNs) return -xen::XEN_EINVAL;
      hc.dom.timers().arm({TimerKey::kSingleShot, id}, t.timeout_abs_ns);
      return 0;
    }
    case VC::op::stop_singleshot_timer:
      if (id != hc.vcpu.id()) return -xen::XEN_EINVAL;
      hc.dom.timers().cancel({TimerKey::kSingleShot, id});
      return 0;
    case VC::op::set_periodic_timer: {
      VC::set_periodic_timer t;
      if (!hc.guest.get(hc.arg[2], t)) return -xen::XEN_EFAULT;
      if (t.period_ns < kMinPeriodNs || t.period_ns > kMaxDeltaNs) return -xen::XEN_EINVAL;
      hc.dom.timers().arm({TimerKey::kPeriodic, id}, hc.dom.clock().now_ns() + t.period_ns, t.period_ns);
      return 0;
    }
    case VC::op::stop_periodic_timer:
      hc.dom.timers().cancel({TimerKey::kPeriodic, id});
      return 0;
    case VC::op::initialise: {
      xen::hvm::vcpu_hvm_context ctx;
      if (!hc.guest.get(hc.arg[2], ctx)) return -xen::XEN_EFAULT;
      return v->initialise(ctx);
    }
    case VC::op::up:
      return v->up();
    case VC::op::down:
      return v->down();
    case VC::op::is_up:
      return v->is_up() ? 1 : 0;
    case VC::op::get_runstate_info: {
      const xen::vcpu_runstate_info r = v->runstate().snapshot(hc.dom.clock().now_ns());
      return hc.guest.put(hc.arg[2], r) ? 0 : -xen::XEN_EFAULT;
    }
    case VC::op::register_runstate_memory_area:
      return register_runstate_area(hc, *v);
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
