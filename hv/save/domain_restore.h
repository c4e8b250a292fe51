// Rebuilds a saved domain in a new pv-hv (pv-hv --restore,
// docs/save-format.md): the stream is read and checked into guest RAM, then
// the Xen state is set up again as it was saved (before any vCPU runs).
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "memory/guest_memory.h"
#include "save/domain_stream.h"

namespace pv {

class Domain;

struct SavedDomain {
  save::DomainState state;
  std::vector<std::pair<uint64_t, uint64_t>> runs;  // populated frames read: first, count
};

// Reads the rest of the stream (after its configuration record): its
// memory runs into `mem` as they come (a live stream's later passes over
// the earlier ones), everything else into the result; `runs` are the
// populated frames (a live stream's own record of them, else the frames
// carried). Throws save::StreamError (a UserError) naming what is wrong.
SavedDomain read_saved_domain(save::DomainStreamReader& in, const GuestMemory& mem);

// Applies what the stream holds besides RAM: the reservation (the frames
// not in the stream ballooned out), the ceiling, the hypercall page's
// frame, the callback vector, where shared_info, the grant frames and each
// vcpu_info are, each vCPU's KVM state and run state, and the watchdogs.
// The clock was started from the saved guest time by the caller. Throws
// UserError when the stream does not fit this domain.
void apply_saved_domain(Domain& dom, const SavedDomain& saved);

}  // namespace pv
