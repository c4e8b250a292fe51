// The domain's other vCPUs paused while a save writes its stream: the vCPU
// that suspended waits in the SuspendGate, the others park (Vcpu::
// request_park: each finishes its last exit in KVM first, so the registers
// saved are at an instruction boundary), as Xen pauses the whole domain
// before it saves it. They go on when this ends, unless the domain ended
// first (a save that ends it: they never run again).
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

namespace pv {

class Domain;
class Vcpu;

class OtherVcpusPaused {
 public:
  // Asks every vCPU but `held` to park and waits up to `timeout` for all of
  // them; parked() says whether they all did.
  OtherVcpusPaused(Domain& dom, uint32_t held, std::chrono::milliseconds timeout);
  ~OtherVcpusPaused();
  OtherVcpusPaused(const OtherVcpusPaused&) = delete;
  OtherVcpusPaused& operator=(const OtherVcpusPaused&) = delete;

  bool parked() const { return parked_; }

 private:
  std::vector<Vcpu*> paused_;
  bool parked_ = true;
};

}  // namespace pv
