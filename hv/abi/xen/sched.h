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

// SCHEDOP_shutdown: stop the whole domain for <reason> (SHUTDOWN_*).
struct shutdown {
  uint32_t reason;  // xen::shutdown::*
};

// SCHEDOP_poll: block until one of <ports> is pending or <timeout> passes.
struct poll {
  uint64_t ports;     // guest handle to evtchn_port_t[nr_ports]
  uint32_t nr_ports;
  uint32_t pad;
  uint64_t timeout;  // absolute system time in ns, 0 = none
};
static_assert(sizeof(poll) == 24);

// SCHEDOP_watchdog: create, re-arm or destroy a domain watchdog timer.
struct watchdog {
  uint32_t id;       // 0 = allocate a new watchdog; else the one to re-arm
  uint32_t timeout;  // seconds; 0 = destroy watchdog `id`
};
inline constexpr unsigned kMaxWatchdogs = 2;  // NR_DOMAIN_WATCHDOG_TIMERS

}  // namespace xen::sched

// ---- Xen's spellings (public/sched.h; SHUTDOWN_* are in xen.h) ----
namespace xen {
inline constexpr uint32_t SCHEDOP_yield = sched::op::yield;
inline constexpr uint32_t SCHEDOP_block = sched::op::block;
inline constexpr uint32_t SCHEDOP_shutdown = sched::op::shutdown;
inline constexpr uint32_t SCHEDOP_poll = sched::op::poll;
inline constexpr uint32_t SCHEDOP_remote_shutdown = sched::op::remote_shutdown;
inline constexpr uint32_t SCHEDOP_shutdown_code = sched::op::shutdown_code;
inline constexpr uint32_t SCHEDOP_watchdog = sched::op::watchdog;
inline constexpr uint32_t SCHEDOP_pin_override = sched::op::pin_override;

using sched_shutdown = sched::shutdown;
using sched_poll = sched::poll;
using sched_watchdog = sched::watchdog;
}  // namespace xen
