// HYPERVISOR_hvm_op(op, arg): HVM parameters and the per-vCPU upcall vector.
#include <xen/hvm.h>

#include "cpu/vcpu.h"
#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace H = xen::hvm;

int64_t do_hvm_op(Hypercall& hc) {
  switch (hc.arg[0]) {
    case H::op::set_param:
    case H::op::get_param: {
      H::param_arg p;
      if (!hc.guest.get(hc.arg[1], p)) return -xen::XEN_EFAULT;
      if (!hc.dom.is_self(p.domid)) return -xen::XEN_ESRCH;
      if (hc.arg[0] == H::op::set_param) return hc.dom.set_param(p.index, p.value);
      int64_t rc = hc.dom.get_param(p.index, p.value);
      if (rc == 0 && !hc.guest.put(hc.arg[1], p)) return -xen::XEN_EFAULT;
      return rc;
    }
    case H::op::set_evtchn_upcall_vector: {
      H::evtchn_upcall_vector u;
      if (!hc.guest.get(hc.arg[1], u)) return -xen::XEN_EFAULT;
      Vcpu* v = hc.dom.vcpu(u.vcpu);
      if (!v) return -xen::XEN_ENOENT;
      if (u.vector < 0x20) return -xen::XEN_EINVAL;
      v->set_upcall_vector(u.vector);
      v->kick();
      return 0;
    }
    case H::op::get_time: {
      uint64_t now = hc.dom.clock().now_ns();
      return hc.guest.put(hc.arg[1], now) ? 0 : -xen::XEN_EFAULT;
    }
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
