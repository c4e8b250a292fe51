// Per-vCPU operations (public/vcpu.h): HYPERVISOR_vcpu_op(cmd, vcpuid, arg).
#pragma once
#include "xen.h"

namespace xen::vcpu {

namespace op {
inline constexpr uint32_t initialise = 0;
inline constexpr uint32_t up = 1;
inline constexpr uint32_t down = 2;
inline constexpr uint32_t is_up = 3;
inline constexpr uint32_t get_runstate_info = 4;
inline constexpr uint32_t register_runstate_memory_area = 5;
inline constexpr uint32_t set_periodic_timer = 6;
inline constexpr uint32_t stop_periodic_timer = 7;
inline constexpr uint32_t set_singleshot_timer = 8;
inline constexpr uint32_t stop_singleshot_timer = 9;
inline constexpr uint32_t register_vcpu_info = 10;
inline constexpr uint32_t send_nmi = 11;
inline constexpr uint32_t get_physid = 12;
inline constexpr uint32_t register_vcpu_time_memory_area = 13;
}  // namespace op

// VCPUOP_register_vcpu_info: move this vCPU's vcpu_info to <mfn>:<offset>.
struct register_vcpu_info {
  uint64_t mfn;     // guest frame holding the vcpu_info
  uint32_t offset;  // offset within the frame
  uint32_t rsvd;
};
static_assert(sizeof(register_vcpu_info) == 16);

// VCPUOP_set_periodic_timer: fire VIRQ_TIMER every <period_ns>.
struct set_periodic_timer {
  uint64_t period_ns;
};

// VCPUOP_set_singleshot_timer: fire VIRQ_TIMER once at system time <timeout_abs_ns>.
struct set_singleshot_timer {
  uint64_t timeout_abs_ns;  // absolute system time
  uint32_t flags;
  uint32_t pad;
};
static_assert(sizeof(set_singleshot_timer) == 16);
// Fail with -ETIME if the timeout is already in the past.
inline constexpr uint32_t VCPU_SSHOTTMR_future = 1 << 0;

// VCPUOP_get_runstate_info and the area VCPUOP_register_runstate_memory_area
// names: how long the vCPU spent in each state, in ns of system time.
struct vcpu_runstate_info {
  int32_t state;              // RUNSTATE_* it is in
  uint32_t pad;
  uint64_t state_entry_time;  // when it entered it; XEN_RUNSTATE_UPDATE set while the area is written
  uint64_t time[4];           // running, runnable, blocked, offline
};
static_assert(sizeof(vcpu_runstate_info) == 48);
static_assert(__builtin_offsetof(vcpu_runstate_info, state_entry_time) == 8);
static_assert(__builtin_offsetof(vcpu_runstate_info, time) == 16);

// VCPUOP_register_runstate_memory_area: the guest-virtual address of a
// vcpu_runstate_info the hypervisor keeps up to date (0: none).
struct register_runstate_memory_area {
  uint64_t addr;
};
static_assert(sizeof(register_runstate_memory_area) == 8);
inline constexpr uint64_t XEN_RUNSTATE_UPDATE = 1ull << 63;

}  // namespace xen::vcpu

// ---- Xen's spellings (public/vcpu.h); see xen.h ----
namespace xen {
inline constexpr uint32_t VCPUOP_initialise = vcpu::op::initialise;
inline constexpr uint32_t VCPUOP_up = vcpu::op::up;
inline constexpr uint32_t VCPUOP_down = vcpu::op::down;
inline constexpr uint32_t VCPUOP_is_up = vcpu::op::is_up;
inline constexpr uint32_t VCPUOP_get_runstate_info = vcpu::op::get_runstate_info;
inline constexpr uint32_t VCPUOP_register_runstate_memory_area = vcpu::op::register_runstate_memory_area;
inline constexpr uint32_t VCPUOP_set_periodic_timer = vcpu::op::set_periodic_timer;
inline constexpr uint32_t VCPUOP_stop_periodic_timer = vcpu::op::stop_periodic_timer;
inline constexpr uint32_t VCPUOP_set_singleshot_timer = vcpu::op::set_singleshot_timer;
inline constexpr uint32_t VCPUOP_stop_singleshot_timer = vcpu::op::stop_singleshot_timer;
inline constexpr uint32_t VCPUOP_register_vcpu_info = vcpu::op::register_vcpu_info;
inline constexpr uint32_t VCPUOP_send_nmi = vcpu::op::send_nmi;
inline constexpr uint32_t VCPUOP_get_physid = vcpu::op::get_physid;
inline constexpr uint32_t VCPUOP_register_vcpu_time_memory_area = vcpu::op::register_vcpu_time_memory_area;
inline constexpr uint32_t VCPUOP_register_runstate_phys_area = 14;
inline constexpr uint32_t VCPUOP_register_vcpu_time_phys_area = 15;
using vcpu::VCPU_SSHOTTMR_future;
using vcpu::XEN_RUNSTATE_UPDATE;
using vcpu_runstate_info = vcpu::vcpu_runstate_info;
using vcpu_register_runstate_memory_area = vcpu::register_runstate_memory_area;

// vcpu_runstate_info.state
inline constexpr int RUNSTATE_running = 0;
inline constexpr int RUNSTATE_runnable = 1;
inline constexpr int RUNSTATE_blocked = 2;
inline constexpr int RUNSTATE_offline = 3;

using vcpu_register_vcpu_info = vcpu::register_vcpu_info;
using vcpu_set_periodic_timer = vcpu::set_periodic_timer;
using vcpu_set_singleshot_timer = vcpu::set_singleshot_timer;
}  // namespace xen
