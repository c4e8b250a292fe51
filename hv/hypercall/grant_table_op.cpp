// HYPERVISOR_grant_table_op(cmd, uop, count): the granting side's table
// management (version 1). Mapping others' grants is a back-end's job and
// is done by pv-backd through the grant table, not by a guest hypercall.
#include <xen/grant_table.h>

#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {
namespace GT = xen::gnttab;

namespace {

int64_t setup_table(Hypercall& hc) {
  GT::setup_table s;
  if (!hc.guest.get(hc.arg[1], s)) return -xen::XEN_EFAULT;
  GrantTable& gt = hc.dom.gnttab();
  if (!hc.dom.is_self(s.dom)) s.status = GT::st::bad_domain;
  else s.status = gt.grow(s.nr_frames);
  if (s.status == GT::st::okay) {
    for (uint32_t i = 0; i < s.nr_frames; i++) {
      const xen::xen_pfn_t gfn = gt.frame_gfn(i);
      if (!hc.guest.put(s.frame_list + i * sizeof(gfn), gfn)) {
        s.status = GT::st::bad_virt_addr;
        break;
      }
    }
  }
  return hc.guest.put(hc.arg[1], s) ? 0 : -xen::XEN_EFAULT;
}

int64_t query_size(Hypercall& hc) {
  GT::query_size q;
  if (!hc.guest.get(hc.arg[1], q)) return -xen::XEN_EFAULT;
  if (!hc.dom.is_self(q.dom)) {
    q.status = GT::st::bad_domain;
  } else {
    q.nr_frames = hc.dom.gnttab().nr_frames();
    q.max_nr_frames = hc.dom.gnttab().max_frames();
    q.status = GT::st::okay;
  }
  return hc.guest.put(hc.arg[1], q) ? 0 : -xen::XEN_EFAULT;
}

int64_t set_version(Hypercall& hc) {
  GT::set_version v;
  if (!hc.guest.get(hc.arg[1], v)) return -xen::XEN_EFAULT;
  const bool ok = v.version == hc.dom.gnttab().version();
  v.version = hc.dom.gnttab().version();
  if (!hc.guest.put(hc.arg[1], v)) return -xen::XEN_EFAULT;
  return ok ? 0 : -xen::XEN_EINVAL;  // only version 1 exists here
}

int64_t get_version(Hypercall& hc) {
  GT::get_version v;
  if (!hc.guest.get(hc.arg[1], v)) return -xen::XEN_EFAULT;
  if (!hc.dom.is_self(v.dom)) return -xen::XEN_ESRCH;
  v.version = hc.dom.gnttab().version();
  return hc.guest.put(hc.arg[1], v) ? 0 : -xen::XEN_EFAULT;
}

}  // namespace

int64_t do_grant_table_op(Hypercall& hc) {
  const uint64_t cmd = hc.arg[0], count = hc.arg[2];
  switch (cmd) {
    case GT::op::setup_table:
    case GT::op::query_size:
    case GT::op::set_version:
    case GT::op::get_version:
      if (count != 1) return -xen::XEN_EINVAL;  // as Xen: these take exactly one
      break;
    default:
      return hc.unimplemented();
  }
  switch (cmd) {
    case GT::op::setup_table: return setup_table(hc);
    case GT::op::query_size: return query_size(hc);
    case GT::op::set_version: return set_version(hc);
    default: return get_version(hc);
  }
}

}  // namespace pv
