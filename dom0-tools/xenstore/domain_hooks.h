// What INTRODUCE and RELEASE mean outside the store. pvd implements this:
// introduce maps the guest's xenstore ring page and binds its event channel
// (then connects the ring with XenstoreServer::connect(domid, ...)); release
// tears that down. The store side (domain registry, @introduceDomain and
// @releaseDomain, dropping the domain's connections) is the server's.
#pragma once
#include <cstdint>

#include "xenstore/wire.h"

namespace pv::xenstore {

class DomainHooks {
 public:
  virtual ~DomainHooks() = default;
  // INTRODUCE <domid> <gfn> <evtchn>, also a repeated one for an already
  // introduced domain (Xen uses that to rebind the event channel).
  // Returns 0, or an errno for the XS_ERROR reply (e.g. ENOENT: no such domain).
  virtual int introduce(DomId domid, uint64_t gfn, uint32_t evtchn) = 0;
  // RELEASE, or the domain is gone. The server has already closed the
  // domain's connections.
  virtual void release(DomId domid) = 0;
};

}  // namespace pv::xenstore
