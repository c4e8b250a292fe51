// pvguest: vCPU bring-up (VCPUOP_initialise/up), per-vCPU vcpu_info
// registration and a tiny cross-vCPU job runner.
#pragma once
#include <stdint.h>

namespace smp {
long register_vcpu_info(unsigned cpu);  // into the per-CPU vcpu_info page
long vcpu_is_up(unsigned cpu);
long setup_upcall_vector(unsigned cpu);  // HVMOP_set_evtchn_upcall_vector
}  // namespace smp
