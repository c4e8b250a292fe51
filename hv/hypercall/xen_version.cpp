// HYPERVISOR_xen_version(cmd, arg)
#include <cstring>

#include <xen/version.h>

#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace V = xen::version;

namespace {
template <size_t N>
int64_t put_string(Hypercall& hc, const char* s) {
  char buf[N] = {};
  std::strncpy(buf, s, N - 1);
  return hc.guest.put(hc.arg[1], buf) ? 0 : -xen::XEN_EFAULT;
}
}  // namespace

int64_t do_xen_version(Hypercall& hc) {
  switch (hc.arg[0]) {
    case V::op::version:
      return (xen::kXenVersionMajor << 16) | xen::kXenVersionMinor;
    case V::op::extraversion:
      return put_string<V::kExtraversionLen>(hc, "-pvkvm");
    case V::op::capabilities:
      return put_string<V::kCapabilitiesLen>(hc, "hvm-3.0-x86_64");
    case V::op::changeset:
      return put_string<V::kChangesetLen>(hc, "pvplatform " PV_VERSION);
    case V::op::compile_info: {
      V::compile_info ci{};
      std::strncpy(ci.compiler, __VERSION__, sizeof(ci.compiler) - 1);
      std::strncpy(ci.compile_by, "pvplatform", sizeof(ci.compile_by) - 1);
      std::strncpy(ci.compile_domain, "pv-hv", sizeof(ci.compile_domain) - 1);
      std::strncpy(ci.compile_date, __DATE__, sizeof(ci.compile_date) - 1);
      return hc.guest.put(hc.arg[1], ci) ? 0 : -xen::XEN_EFAULT;
    }
    case V::op::platform_parameters: {
      V::platform_parameters p{0xffff800000000000ull};  // HYPERVISOR_VIRT_START
      return hc.guest.put(hc.arg[1], p) ? 0 : -xen::XEN_EFAULT;
    }
    case V::op::get_features: {
      V::feature_info fi{};
      if (!hc.guest.get(hc.arg[1], fi)) return -xen::XEN_EFAULT;
      fi.submap = 0;
      if (fi.submap_idx == 0) {
        for (unsigned f : {V::feat::writable_page_tables, V::feat::writable_descriptor_tables,
                           V::feat::auto_translated_physmap, V::feat::supervisor_mode_kernel,
                           V::feat::hvm_callback_vector, V::feat::hvm_safe_pvclock})
          fi.submap |= 1u << f;
      }
      return hc.guest.put(hc.arg[1], fi) ? 0 : -xen::XEN_EFAULT;
    }
    case V::op::pagesize:
      return xen::kPageSize;
    case V::op::guest_handle: {
      uint8_t handle[V::kGuestHandleLen] = {};
      return hc.guest.put(hc.arg[1], handle) ? 0 : -xen::XEN_EFAULT;
    }
    case V::op::commandline:
    case V::op::build_id:
      return -xen::XEN_EPERM;  // host information, not for guests (as Xen's XSM default)
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
