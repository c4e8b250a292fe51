// pvguest: cpu/N/availability and the vcpuwork mode (vcpu_hotplug.h).
#include "vcpu_hotplug.h"

#include <xen/sched.h>

#include "arch.h"
#include "console.h"
#include "control.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "pvtime.h"
#include "smp.h"
#include "xenbus.h"

namespace hotplug {
volatile bool work_on = false;

namespace {
constexpr uint64_t kPrintEveryNs = 1000000000ull;
constexpr uint64_t kStepNs = 20000000ull;  // 20 ms of counting per step

// As Linux's vcpu_hotplug(): read cpu/N/availability and follow it. A
// missing node changes nothing (the vCPU stays as it is).
void follow(unsigned cpu) {
  char path[32], state[16];
  lib::snprintf(path, sizeof path, "cpu/%u/availability", cpu);
  int rc = xenbus::read(path, state, sizeof state);
  if (rc == -int(xen::XEN_ENOENT)) return;
  if (rc != 0) {
    con::printf("VCPU cpu%u: cannot read %s: %s\n", cpu, path, xenbus::error_name(rc));
    return;
  }
  const bool online = lib::strcmp(state, "online") == 0;
  if (!online && lib::strcmp(state, "offline") != 0) {
    con::printf("VCPU cpu%u: unknown availability '%s' ignored\n", cpu, state);
    return;
  }
  if (cpu >= k::nr_cpus) {
    con::printf("VCPU cpu%u: no such vCPU (the domain has %u)\n", cpu, k::nr_cpus);
    return;
  }
  const long up = smp::vcpu_is_up(cpu);
  if (online == (up == 1)) return;  // already so
  if (cpu == 0) {
    con::printf("VCPU cpu0: the boot vCPU stays online\n");
    return;
  }
  if (online) {
    long r = smp::bring_up(cpu);
    con::printf("VCPU cpu%u online rc=%ld is_up=%ld\n", cpu, r, smp::vcpu_is_up(cpu));
  } else {
    long r = smp::take_down(cpu);
    con::printf("VCPU cpu%u offline rc=%ld is_up=%ld\n", cpu, r, smp::vcpu_is_up(cpu));
  }
}

// Path "cpu" (the first event) or "cpu/N/..." (a change under cpu/N).
void on_cpu_event(const char* path, const char*, void*) {
  if (lib::strcmp(path, "cpu") == 0) {
    for (unsigned cpu = 0; cpu < k::nr_cpus; cpu++) follow(cpu);
    return;
  }
  if (memcmp(path, "cpu/", 4) != 0) return;
  const char* n = path + 4;
  size_t len = 0;
  while (n[len] >= '0' && n[len] <= '9') len++;
  uint64_t cpu;
  if (!len || (n[len] != '/' && n[len] != 0) || !lib::parse_u64(n, len, cpu) || cpu >= k::kMaxCpus) return;
  follow(unsigned(cpu));
}
}  // namespace

int start() {
  int rc = xenbus::watch("cpu", "cpu", on_cpu_event);
  if (rc) con::printf("xenbus: watch cpu failed: %s\n", xenbus::error_name(rc));
  return rc;
}

void work_step(unsigned cpu) {
  k::PerCpu& pc = k::cpus[cpu];
  const uint64_t start = pvclock::now();
  while (pvclock::now() - start < kStepNs && !pc.down_req && pc.job_req == pc.job_done)
    for (unsigned i = 0; i < 10000; i++) pc.work_count = pc.work_count + 1;
  const uint64_t now = pvclock::now();
  if (now - pc.work_printed_ns >= kPrintEveryNs) {
    pc.work_printed_ns = now;
    con::printf("VCPUWORK cpu%u count=%lu\n", cpu, static_cast<unsigned long>(pc.work_count));
  }
}
}  // namespace hotplug

[[noreturn]] void run_vcpuwork() {
  control::start();  // control/shutdown and cpu/ from here on
  hotplug::work_on = true;
  arch::mb();
  for (unsigned cpu = 1; cpu < k::nr_cpus; cpu++)
    if (k::cpus[cpu].online) evt::send(k::cpus[cpu].ipi_port);  // out of their halt
  con::printf("VCPUWORK started on %u vCPU(s)\n", k::nr_cpus);
  for (;;) {
    hotplug::work_step(0);
    if (xenbus::connected()) xenbus::wait_events(1000000ull);  // 1 ms: watch events, then count on
  }
}
