// pvguest: vCPU hot-plug as Linux's drivers/xen/cpu_hotplug.c does it (a
// watch on cpu/, each cpu/N/availability "online" or "offline" brings that
// vCPU up or takes it down), and the `vcpuwork` mode: every online vCPU
// counts in a loop and prints its progress, to show which ones run.
#pragma once
#include <stdint.h>

namespace hotplug {
// Watches cpu/ (xenbus must be up). The first event, which xenstored sends
// right away, applies every cpu/N/availability already written.
int start();

// The `vcpuwork` mode is on: idle vCPUs call work_step() instead of halting.
extern volatile bool work_on;
// Counts for a few milliseconds (less if asked to go down or to run a job)
// and prints "VCPUWORK cpuN count=C" once a second.
void work_step(unsigned cpu);
}  // namespace hotplug

// `vcpuwork`: follows control/shutdown and cpu/, and counts on every
// online vCPU until shut down.
[[noreturn]] void run_vcpuwork();
