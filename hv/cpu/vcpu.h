// One vCPU: a thread running KVM_RUN and handling its exits (hypercalls,
// port I/O, MSR, HLT), injecting the event-channel upcall vector, and
// blocking in SCHEDOP_block/poll or HLT until an event arrives.
#pragma once
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>

#include <xen/hvm.h>

#include "cpu/cpu_state.h"
#include "cpu/runstate.h"
#include "kvm/kvm.h"

namespace pv {

class Domain;

class Vcpu {
 public:
  Vcpu(Domain& dom, uint32_t id, kvm::VcpuFd fd);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  uint32_t id() const { return id_; }
  kvm::VcpuFd& fd() { return fd_; }

  // Starts the thread; vCPU 0 runs from `boot`, the others wait for
  // VCPUOP_initialise + VCPUOP_up.
  void start(std::optional<CpuState> boot);
  // A restored vCPU (pv-hv --restore), before start(std::nullopt): its KVM
  // state is set already; it runs as it is once started when `up`, waits
  // for VCPUOP_up when only `initialised`, or for VCPUOP_initialise.
  void restore_run_state(bool initialised, bool up);
  void join();

  // An upcall is pending for this vCPU (or the domain is ending).
  void kick();
  // Re-evaluate a wait (a polled port may have become pending).
  void wake();
  bool polling() const { return polling_.load(std::memory_order_acquire); }

  // VCPUOP_* on this vCPU; 0 or a negative Xen errno.
  int64_t initialise(const xen::hvm::vcpu_hvm_context& ctx);
  int64_t up();
  int64_t down();
  bool is_up() const;
  // Its runstate (VCPUOP_get_runstate_info, register_runstate_memory_area).
  Runstate& runstate() { return runstate_; }
  void set_upcall_vector(uint8_t v) { upcall_vector_.store(v, std::memory_order_relaxed); }

  // Pausing for a save (save/vcpu_pause.h). request_park(): the thread
  // leaves KVM_RUN or its wait, finishes its last exit in KVM (a KVM_RUN
  // with a kick pending: the hypercall's result and rip are in the vCPU's
  // state, no guest instruction runs) and parks; await_parked() waits for
  // that (false on timeout or when the domain ends); unpark() lets it go
  // on. A wait it left (SCHEDOP_block/poll, HLT) returns as a spurious
  // wake-up, which Xen guests take.
  void request_park();
  bool await_parked(std::chrono::steady_clock::time_point deadline);
  void unpark();
  // Before start(): the thread parks before it first enters the guest,
  // until unpark() (pv-hv --paused).
  void hold_at_start() { park_requested_.store(true, std::memory_order_seq_cst); }

  // Blocking hypercalls. Both return when the domain shuts down too.
  void block_until_event();  // SCHEDOP_block, HLT
  // SCHEDOP_poll: until one of `ports` is pending or guest time `deadline`
  // (0 = none) passes.
  void poll(const uint32_t* ports, uint32_t n, uint64_t deadline_ns);

 private:
  void run_loop();
  void drain_kicks();
  bool upcall_pending() const;
  void prepare_injection();
  void handle_exit();
  void handle_io();
  void handle_hypercall(uint64_t nr, const uint64_t (&args)[5], int64_t& result, uint32_t cpl, bool longmode);
  void handle_msr_write();
  void handle_hlt();
  void handle_mmio();
  void crash(const std::string& why);
  enum class Next { kRun, kPark, kEnd };
  Next wait_until_running();
  void park_if_requested();
  void complete_pending_exit();
  template <typename Pred>
  void wait(Pred pred, std::optional<std::chrono::steady_clock::time_point> deadline);

  Domain& dom_;
  const uint32_t id_;
  kvm::VcpuFd fd_;
  std::thread thread_;
  pthread_t tid_{};
  std::atomic<bool> in_guest_{false};
  std::atomic<bool> polling_{false};
  bool entered_ = false;  // the thread's own: KVM_RUN has run once
  std::atomic<uint8_t> upcall_vector_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool up_ = false;
  bool initialised_ = false;
  std::optional<CpuState> pending_state_;  // from VCPUOP_initialise
  uint64_t wake_seq_ = 0;
  // Written under mu_ (the waits on cv_ see it), read also without it
  // before KVM_RUN (Dekker with in_guest_: a request either sees the
  // thread in the guest and signals it, or the thread sees the request and
  // does not enter).
  std::atomic<bool> park_requested_{false};
  bool parked_ = false;
  Runstate runstate_;
};

}  // namespace pv
