// HYPERVISOR_memory_op(cmd, arg): physmap placement of Xen pages,
// reservation queries and the memory map.
#include <xen/memory.h>

#include "boot/pvh_loader.h"
#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace M = xen::mem;

namespace {

int64_t add_to_physmap(Hypercall& hc) {
  M::add_to_physmap a;
  if (!hc.guest.get(hc.arg[1], a)) return -xen::XEN_EFAULT;
  if (!hc.dom.is_self(a.domid)) return -xen::XEN_ESRCH;
  switch (a.space) {
    case M::space::shared_info:
      if (a.idx != 0) return -xen::XEN_EINVAL;
      return hc.dom.map_shared_info(a.gpfn);
    case M::space::grant_table:
      if (a.idx & M::XENMAPIDX_grant_table_status) return -xen::XEN_EINVAL;  // v2 status frames
      if (!hc.dom.is_placeable_gfn(a.gpfn) || a.idx > UINT32_MAX) return -xen::XEN_EINVAL;
      return hc.dom.gnttab().map_frame(static_cast<uint32_t>(a.idx), a.gpfn);
    default:
      return hc.unimplemented();
  }
}

int64_t reservation_query(Hypercall& hc) {
  xen::domid_t id;
  if (!hc.guest.get(hc.arg[1], id)) return -xen::XEN_EFAULT;
  if (!hc.dom.is_self(id)) return -xen::XEN_ESRCH;
  return static_cast<int64_t>(hc.dom.memory().pages());
}

int64_t memory_map(Hypercall& hc) {
  M::memory_map mm;
  if (!hc.guest.get(hc.arg[1], mm)) return -xen::XEN_EFAULT;
  const auto regions = boot::memory_map(hc.dom.memory().size());
  uint32_t n = 0;
  for (; n < regions.size() && n < mm.nr_entries; n++) {
    M::e820_entry e{regions[n].addr, regions[n].size, regions[n].type};
    if (!hc.guest.put(mm.buffer + n * sizeof(e), e)) return -xen::XEN_EFAULT;
  }
  mm.nr_entries = n;
  return hc.guest.put(hc.arg[1], mm) ? 0 : -xen::XEN_EFAULT;
}

}  // namespace

int64_t do_memory_op(Hypercall& hc) {
  switch (hc.arg[0] & M::op::kCmdMask) {
    case M::op::add_to_physmap:
      return add_to_physmap(hc);
    case M::op::current_reservation:
    case M::op::maximum_reservation:
      return reservation_query(hc);
    case M::op::maximum_ram_page:
    case M::op::maximum_gpfn:
      return static_cast<int64_t>(hc.dom.memory().pages() - 1);
    case M::op::memory_map:
      return memory_map(hc);
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
