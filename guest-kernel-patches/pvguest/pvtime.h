// pvguest: time (pvclock in vcpu_info, wallclock in shared_info) and the
// per-vCPU Xen timers (VCPUOP single-shot / periodic, VIRQ_TIMER).
#pragma once
#include <stdint.h>
#include <xen/xen.h>

namespace pvclock {
uint64_t read(const volatile xen::vcpu_time_info* t);
uint64_t now();  // this vCPU's system time in ns (0 before shared_info)
// Wallclock at system time 0 (wc_version protocol); returns false if unset.
bool wallclock(uint64_t& sec, uint32_t& nsec);
void spin_ns(uint64_t ns);
}  // namespace pvclock

namespace timer {
long set_singleshot(uint64_t abs_ns, uint32_t flags);  // on this vCPU
long stop_singleshot();
long set_periodic(uint64_t period_ns);
long stop_periodic();
bool bind_timer_virq(unsigned cpu);  // binds + unmasks VIRQ_TIMER for `cpu`
void on_timer(unsigned cpu);         // called from the upcall handler
}  // namespace timer
