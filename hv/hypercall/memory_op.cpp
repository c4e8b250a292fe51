// HYPERVISOR_memory_op(cmd, arg): physmap placement of Xen pages,
// reservation queries and the memory map.
#include <xen/memory.h>

#include "boot/pvh_loader.h"
#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace M = xen::mem;

namespace {

constexpr unsigned kExtentShift = 6;  // MEMOP_EXTENT_SHIFT: the command is the low 6 bits

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
      if (a.idx > UINT32_MAX) return -xen::XEN_EINVAL;
      return hc.dom.map_grant_frame(static_cast<uint32_t>(a.idx), a.gpfn);
    default:
      return hc.unimplemented();
  }
}

// increase/decrease_reservation, populate_physmap: glue over Reservation.
// As in Xen, the answer is the number of extents done (counting from the
// continuation start in the command's high bits); a header that cannot be
// read or is refused does none.
int64_t reservation_op(Hypercall& hc, uint32_t op) {
  const uint64_t start = hc.arg[0] >> kExtentShift;
  M::memory_reservation r;
  if (!hc.guest.get(hc.arg[1], r)) return static_cast<int64_t>(start);
  if (!hc.dom.is_self(r.domid)) return static_cast<int64_t>(start);  // Xen: not ours to adjust
  if (r.nr_extents > Reservation::kMaxExtents || r.extent_start > UINT64_MAX - r.nr_extents * sizeof(xen::xen_pfn_t))
    return static_cast<int64_t>(start);  // a list that wraps around the address space
  Reservation& res = hc.dom.reservation();
  const auto read = [&](uint64_t i, uint64_t& gfn) {
    xen::xen_pfn_t v;
    if (!hc.guest.get(r.extent_start + i * sizeof v, v)) return false;
    gfn = v;
    return true;
  };
  switch (op) {
    case M::op::increase_reservation:
      return static_cast<int64_t>(res.increase(start, r.nr_extents, r.extent_order));
    case M::op::decrease_reservation:
      return static_cast<int64_t>(res.decrease(start, r.nr_extents, r.extent_order, read));
    default:
      // Populate-on-demand for oneself is refused, as Xen does.
      if (r.mem_flags & xen::XENMEMF_populate_on_demand) return static_cast<int64_t>(start);
      return static_cast<int64_t>(res.populate(start, r.nr_extents, r.extent_order, read));
  }
}

int64_t reservation_query(Hypercall& hc, uint32_t op) {
  if (hc.arg[0] >> kExtentShift) return -xen::XEN_EINVAL;
  xen::domid_t id;
  if (!hc.guest.get(hc.arg[1], id)) return -xen::XEN_EFAULT;
  if (!hc.dom.is_self(id)) return -xen::XEN_ESRCH;
  const Reservation& res = hc.dom.reservation();
  switch (op) {
    case M::op::current_reservation: return static_cast<int64_t>(res.current());
    case M::op::maximum_reservation: return static_cast<int64_t>(res.maximum());
    default: return static_cast<int64_t>(hc.dom.memory().pages() - 1);  // maximum_gpfn: the ring pages are last
  }
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
    case M::op::increase_reservation:
    case M::op::decrease_reservation:
    case M::op::populate_physmap:
      return reservation_op(hc, hc.arg[0] & M::op::kCmdMask);
    case M::op::current_reservation:
    case M::op::maximum_reservation:
    case M::op::maximum_gpfn:
      return reservation_query(hc, hc.arg[0] & M::op::kCmdMask);
    case M::op::maximum_ram_page:
      return static_cast<int64_t>(hc.dom.memory().pages() - 1);
    case M::op::memory_map:
      return memory_map(hc);
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
