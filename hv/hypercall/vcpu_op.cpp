// HYPERVISOR_vcpu_op(cmd, vcpuid, arg): vcpu_info placement, timers and
// bringing secondary vCPUs up and down.
#include <xen/hvm.h>
#include <xen/vcpu.h>

#include "cpu/vcpu.h"
#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace VC = xen::vcpu;

namespace {
constexpr uint64_t kMinPeriodNs = 1'000'000;             // Xen: 1 ms
constexpr uint64_t kMaxDeltaNs = (1ull << 62) - 1;       // beyond this a deadline is nonsense
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
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
