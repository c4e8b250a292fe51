// The save ops of pv-hv's control socket (pv/control_protocol.h, 80..89):
// what pvd asks for to checkpoint (and later save) a running domain.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "control/control_server.h"
#include "pv/control_protocol.h"
#include "pv/unique_fd.h"

namespace pv {

class Domain;

// Runs on the control thread: arms the domain's SuspendGate, tells the
// requester kArmed (pvd then writes control/shutdown = suspend), waits for
// the guest's SHUTDOWN_suspend up to req.value ms (capped at 10 minutes) and
// lets it go on (kCheckpointToFile: after writing the save stream to the
// descriptor sent along; kCheckpointToFileHeld: after kWritten and the
// requester's kRelease). Returns the final status: 0, -ETIMEDOUT (the
// guest did not suspend: it keeps running), -EBUSY (another save is under
// way), -EINVAL, -EBADF, -EIO (see pv/control_protocol.h),
// -ECONNRESET: a save (kSaveToFile) whose requester had gone by the time
// the guest suspended is cancelled and the guest goes on, so a pvd killed
// mid-save loses no domain.
int32_t handle_save_op(Domain& dom, const ctl::Request& req, std::vector<UniqueFd>& fds,
                       ControlServer::SaveRequester& requester);

}  // namespace pv
