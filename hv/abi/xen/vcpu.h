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

struct register_vcpu_info {
  uint64_t mfn;     // guest frame holding the vcpu_info
  uint32_t offset;  // offset within the frame
  uint32_t rsvd;
};
static_assert(sizeof(register_vcpu_info) == 16);

struct set_periodic_timer {
  uint64_t period_ns;
};

struct set_singleshot_timer {
  uint64_t timeout_abs_ns;  // absolute system time
  uint32_t flags;
  uint32_t pad;
};
static_assert(sizeof(set_singleshot_timer) == 16);
// Fail with -ETIME if the timeout is already in the past.
inline constexpr uint32_t VCPU_SSHOTTMR_future = 1 << 0;

}  // namespace xen::vcpu
