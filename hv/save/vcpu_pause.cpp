#include "save/vcpu_pause.h"

#include "cpu/vcpu.h"
#include "domain.h"

namespace pv {

OtherVcpusPaused::OtherVcpusPaused(Domain& dom, uint32_t held, std::chrono::milliseconds timeout) {
  for (uint32_t v = 0; v < dom.nr_vcpus(); v++)
    if (v != held) paused_.push_back(dom.vcpu(v));
  for (Vcpu* v : paused_) v->request_park();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (Vcpu* v : paused_) parked_ = v->await_parked(deadline) && parked_;
}

OtherVcpusPaused::~OtherVcpusPaused() {
  for (Vcpu* v : paused_) v->unpark();
}

}  // namespace pv
