// pvguest: vCPU bring-up (VCPUOP_initialise/up), per-vCPU vcpu_info
// registration and a tiny cross-vCPU job runner.
#pragma once
#include <stdint.h>

namespace smp {
long register_vcpu_info(unsigned cpu);  // into the per-CPU vcpu_info page
long vcpu_is_up(unsigned cpu);
long setup_upcall_vector(unsigned cpu);  // HVMOP_set_evtchn_upcall_vector
// Brings secondary vCPU `cpu` up: VCPUOP_initialise the first time, then
// VCPUOP_up, and waits until it runs. 0 or a negative Xen errno
// (-XEN_ETIMEDOUT: up, but it did not report in).
long bring_up(unsigned cpu);
// Asks secondary vCPU `cpu` to take itself down (it calls VCPUOP_down on
// itself, as Linux's hotplug path does) and waits until VCPUOP_is_up says
// it is down. Brought up again, it carries on where it stopped.
long take_down(unsigned cpu);
}  // namespace smp
