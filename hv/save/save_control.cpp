#include "save/save_control.h"

#include <cerrno>
#include <chrono>
#include <string>

#include "domain.h"
#include "pv/log.h"

namespace pv {

namespace {
constexpr uint64_t kMaxWaitMs = 600'000;
}

int32_t handle_save_op(Domain& dom, const ctl::Request& req, const std::function<void()>& armed) {
  if (req.op != static_cast<uint32_t>(ctl::Op::kCheckpoint) || req.value == 0 || req.value > kMaxWaitMs)
    return -EINVAL;
  // Armed first, then told: the guest cannot suspend before pv-hv waits for it.
  SuspendGate& gate = dom.suspend_gate();
  if (!gate.arm()) return dom.shutting_down() ? -ESRCH : -EBUSY;
  armed();
  if (!gate.await_suspend(std::chrono::milliseconds(req.value))) {
    if (dom.shutting_down()) return -ESRCH;
    log::warning("domain " + dom.options().name + ": the guest did not suspend within " + std::to_string(req.value) +
                 " ms; it keeps running");
    return -ETIMEDOUT;
  }
  log::info("domain " + dom.options().name + ": suspended for a checkpoint; resuming it (suspend cancelled)");
  gate.release(1);
  return 0;
}

}  // namespace pv
