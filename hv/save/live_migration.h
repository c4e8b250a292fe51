// The source end of a live migration (ctl::Op::kMigrateLive,
// docs/save-format.md "Live migration"): pre-copy with KVM's dirty log, as
// Xen's and QEMU's live migration do.
//
//   pass 0      every populated frame, the guest running;
//   pass 1..N   the frames written meanwhile: the guest's writes (KVM's
//               dirty log), the host's (hypercall results, the runstate
//               area: GuestMemory::note_written) and pv-backd's (the
//               grants it let go of: GrantShared's written bitmap); until
//               what is left would take at most the downtime limit to send
//               at the rate the last pass went, or the passes run out;
//   stop        the guest suspends cooperatively (its front-ends quiesced),
//               every other vCPU parks, and the last pass carries what was
//               written since, the frames still granted writable to a
//               back-end (rings, persistent grants) and the Xen pages the
//               host writes (shared_info, vcpu_info, grant frames, the
//               console and xenstore rings); then the populated frames, the
//               vCPUs and the rest of the state, and the guest is held.
#pragma once
#include <cstdint>
#include <vector>

#include "control/control_server.h"
#include "pv/control_protocol.h"
#include "pv/unique_fd.h"

namespace pv {

class Domain;

// kMigrateLive on the control thread; the final status.
int32_t handle_live_migration(Domain& dom, const ctl::Request& req, std::vector<UniqueFd>& fds,
                              ControlServer::SaveRequester& requester);

}  // namespace pv
