// The xenstore link between pv-hv and pvd's xenstored (host-internal, not
// Xen ABI). pv-hv listens on a Unix socket; pvd connects (again after a
// restart). On each connection pv-hv first sends one LinkHello with the
// guest-RAM memfd attached (SCM_RIGHTS): pvd maps just the ring page, at
// ring_gfn. Then both sides send single bytes as doorbells: pv-hv when the
// guest notified the xenstore event channel, pvd when the guest should be
// notified. Doorbells carry no data and may be coalesced.
#pragma once
#include <cstdint>

namespace pv::xslink {

inline constexpr uint32_t kMagic = 0x53585650;  // "PVXS"
inline constexpr uint32_t kVersion = 1;

struct LinkHello {
  uint32_t magic;
  uint32_t version;
  uint32_t domid;
  uint32_t evtchn;      // the guest's xenstore port (informational)
  uint64_t ring_gfn;
  uint64_t ram_bytes;   // size of the memfd
};
static_assert(sizeof(LinkHello) == 32);

}  // namespace pv::xslink
