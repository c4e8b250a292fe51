// One vCPU's runstate as Xen accounts it (public/vcpu.h vcpu_runstate_info):
// the state it is in (running, runnable, blocked, offline), since when, and
// the total time in each, in ns of the guest's system time. The vCPU's
// thread reports each change it sees (entering/leaving KVM_RUN, blocking,
// going offline); "runnable" is the time the host kept the thread waiting
// to run, from /proc/self/task/TID/schedstat's run delay, sampled at each
// update and taken out of the state it was in. The copy in guest memory
// (VCPUOP_register_runstate_memory_area) is rewritten at each update, with
// XEN_RUNSTATE_UPDATE set in state_entry_time while it is being written.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <optional>

#include <xen/vcpu.h>

#include "memory/guest_memory.h"
#include "pv/unique_fd.h"

namespace pv {

class Reservation;

class Runstate {
 public:
  Runstate(GuestMemory& mem, Reservation& reservation, int initial_state);

  static constexpr uint64_t kRefreshNs = 1'000'000;

  // The thread that runs the vCPU, whose schedstat gives the runnable time.
  void attach_thread(pid_t tid);

  // The vCPU is now in `state` (RUNSTATE_*), at system time `now`; or, with
  // the same state, just brings the figures up to date.
  void change(int state, uint64_t now);

  // The figures as of `now` (VCPUOP_get_runstate_info).
  xen::vcpu_runstate_info snapshot(uint64_t now);

  // Where the guest wants its copy: up to two guest-physical pieces (the
  // area may cross a page), len0 + len1 == sizeof(vcpu_runstate_info); or
  // none (len0 == 0). Written at once.
  void set_area(uint64_t gpa0, uint32_t len0, uint64_t gpa1, uint32_t len1, uint64_t now);

  // The host's run delay of the thread so far, in ns (nullopt: unknown).
  static std::optional<uint64_t> read_run_delay(int schedstat_fd);

 private:
  void account(uint64_t now);  // mu_ held
  void publish();              // mu_ held
  uint8_t* area_piece(uint64_t gpa, uint32_t len) const;

  GuestMemory& mem_;
  Reservation& reservation_;
  std::mutex mu_;
  xen::vcpu_runstate_info info_{};
  uint64_t last_update_ = 0;  // system time the figures are accounted up to
  uint64_t run_delay_ = 0;    // the thread's run delay at that time
  UniqueFd schedstat_;
  uint64_t gpa_[2] = {0, 0};
  uint32_t len_[2] = {0, 0};
};

}  // namespace pv
