// Scheduler operations (public/sched.h): HYPERVISOR_sched_op(cmd, arg).
#pragma once
#include "xen.h"

namespace xen::sched {

namespace op {
inline constexpr uint32_t yield = 0;
inline constexpr uint32_t block = 1;
inline constexpr uint32_t shutdown = 2;
inline constexpr uint32_t poll = 3;
inline constexpr uint32_t remote_shutdown = 4;
inline constexpr uint32_t shutdown_code = 5;
inline constexpr uint32_t watchdog = 6;
inline constexpr uint32_t pin_override = 7;
}  // namespace op

struct shutdown {
  uint32_t reason;  // xen::shutdown::*
};

struct poll {
  uint64_t ports;     // guest handle to evtchn_port_t[nr_ports]
  uint32_t nr_ports;
  uint32_t pad;
  uint64_t timeout;  // absolute system time in ns, 0 = none
};
static_assert(sizeof(poll) == 24);

struct watchdog {
  uint32_t id;       // 0 = allocate a new watchdog; else the one to re-arm
  uint32_t timeout;  // seconds; 0 = destroy watchdog `id`
};
inline constexpr unsigned kMaxWatchdogs = 2;  // NR_DOMAIN_WATCHDOG_TIMERS

}  // namespace xen::sched
