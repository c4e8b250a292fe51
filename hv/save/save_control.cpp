#include "save/save_control.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>

#include "cpu/vcpu.h"
#include "domain.h"
#include "save/domain_stream.h"
#include "save/domain_writer.h"
#include "save/live_migration.h"
#include "save/vcpu_pause.h"
#include "pv/error.h"
#include "pv/log.h"
#include <xen/xen.h>

namespace pv {

namespace {
constexpr uint64_t kMaxWaitMs = 600'000;
// How long the other vCPUs have to park: each only has to leave KVM_RUN or
// a wait, which takes microseconds; a vCPU thread busy in the host longer
// than this fails the save (the guest goes on).
constexpr std::chrono::seconds kParkTimeout{5};
// How long a held checkpoint (kCheckpointToFileHeld) keeps the guest still
// for the toolstack, at most.
constexpr std::chrono::milliseconds kHoldTimeout{60'000};
}  // namespace

int32_t handle_save_op(Domain& dom, const ctl::Request& req, std::vector<UniqueFd>& fds,
                       ControlServer::SaveRequester& requester) {
  if (req.op == static_cast<uint32_t>(ctl::Op::kMigrateLive)) return handle_live_migration(dom, req, fds, requester);
  if (req.op == static_cast<uint32_t>(ctl::Op::kUnpause)) return dom.unpause();
  const bool ends = req.op == static_cast<uint32_t>(ctl::Op::kSaveToFile);
  const bool held = req.op == static_cast<uint32_t>(ctl::Op::kCheckpointToFileHeld);
  const bool to_file = ends || held || req.op == static_cast<uint32_t>(ctl::Op::kCheckpointToFile);
  if ((req.op != static_cast<uint32_t>(ctl::Op::kCheckpoint) && !to_file) || req.value == 0 || req.value > kMaxWaitMs)
    return -EINVAL;
  if (to_file && (fds.empty() || fds.size() > 2)) return -EBADF;
  state::DomainConfig toolstack;
  if (to_file && fds.size() == 2 && !save::read_toolstack_record(fds[1].get(), ctl::kMaxToolstackRecord, toolstack)) return -EINVAL;
  // Armed first, then told: the guest cannot suspend before pv-hv waits for it.
  SuspendGate& gate = dom.suspend_gate();
  if (!gate.arm()) return dom.shutting_down() ? -ESRCH : -EBUSY;
  requester.interim(ctl::kArmed);
  if (!gate.await_suspend(std::chrono::milliseconds(req.value))) {
    if (dom.shutting_down()) return -ESRCH;
    log::warning("domain " + dom.options().name + ": the guest did not suspend within " + std::to_string(req.value) +
                 " ms; it keeps running");
    return -ETIMEDOUT;
  }
  if ((ends || held) && requester.gone()) {
    log::warning("domain " + dom.options().name + ": whoever asked for the save has gone; save cancelled, the guest goes on");
    gate.release(1);
    return -ECONNRESET;
  }
  int32_t status = 0;
  // Every vCPU still: the held one in the gate, the others parked (after
  // the guest's own quiescing, the last writers of guest memory).
  std::optional<OtherVcpusPaused> others;
  if (to_file) others.emplace(dom, gate.held_vcpu(), kParkTimeout);
  if (others && !others->parked()) {
    log::error("domain " + dom.options().name + ": a vCPU did not pause within " +
               std::to_string(kParkTimeout.count()) + " s; " + (ends ? "save" : "checkpoint") + " not written, the guest goes on");
    status = -EIO;
  } else if (to_file) {
    try {
      const uint64_t bytes = write_domain_state(dom, fds[0].get(), gate.held_vcpu(), toolstack);
      if (::fsync(fds[0].get()) != 0 && errno != EINVAL && errno != EROFS) throw_errno("fsync(save stream)");
      log::info("domain " + dom.options().name + ": saved " + std::to_string(bytes) + " bytes" +
                (ends ? "" : " for a checkpoint"));
    } catch (const std::exception& e) {
      log::error("domain " + dom.options().name + ": " + (ends ? "save" : "checkpoint") + " not written: " + e.what());
      status = -EIO;
    }
  }
  if (ends && status == 0) {
    // The held vCPU never returns to the guest: finish() stops every vCPU
    // before its next KVM_RUN, and the gate's abort lets the held one out.
    dom.shutdown(xen::shutdown::suspend, "saved");  // before the others unpark: they never run again
    return 0;
  }
  if (held && status == 0) {
    // Still, every vCPU: the toolstack freezes the disks at this instant.
    requester.interim(ctl::kWritten);
    if (!requester.await_release(kHoldTimeout))
      log::warning("domain " + dom.options().name + ": no release from the toolstack within " +
                   std::to_string(kHoldTimeout.count() / 1000) + " s (or it went away); the guest goes on");
  }
  others.reset();
  log::info("domain " + dom.options().name + ": suspended for a checkpoint; resuming it (suspend cancelled)");
  gate.release(1);
  return status;
}

}  // namespace pv
