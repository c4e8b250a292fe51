// One granted guest page, mapped for the data path with the grant rules of
// GrantAccess (the back-end is domain 0). The same thing DomainLink's
// map_grant() does, without needing a DomainLink, so the data path runs
// against any GrantAccess (a unit test's fake guest too).
#pragma once
#include <xen/grant_table.h>

#include "common/domain_link.h"
#include "pv/grant_access.h"

namespace pv::netback {

inline MappedGrant map_granted_page(GrantAccess& grants, xen::grant_ref_t ref, bool write) {
  uint64_t gfn = 0;
  if (grants.acquire(ref, 0, write, gfn) != xen::gnttab::st::okay) return {};
  uint8_t* page = grants.page(gfn);
  if (!page) {
    grants.release(ref, write);
    return {};
  }
  return MappedGrant(&grants, ref, write, page);
}

}  // namespace pv::netback
