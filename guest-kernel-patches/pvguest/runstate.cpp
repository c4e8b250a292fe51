// pvguest: the `runstate=S` mode. vCPU 0 registers its runstate area
// (VCPUOP_register_runstate_memory_area), keeps busy for S seconds and
// prints what the area says once a second, then what
// VCPUOP_get_runstate_info says: its running, runnable (steal), blocked
// and offline time, as a Linux guest reads its steal time.
#include <xen/vcpu.h>

#include "arch.h"
#include "console.h"
#include "hypercall.h"
#include "kernel.h"
#include "modes.h"
#include "pvtime.h"

namespace {
constexpr uint64_t kMs = 1000000ull;
alignas(64) xen::vcpu_runstate_info area[k::kMaxCpus];

// A consistent copy of the area, as Linux's xen_get_runstate_snapshot:
// again while the hypervisor is writing it or it changed under us.
xen::vcpu_runstate_info read_area(unsigned cpu) {
  volatile xen::vcpu_runstate_info* a = &area[cpu];
  xen::vcpu_runstate_info r;
  uint64_t before;
  do {
    before = a->state_entry_time;
    arch::mb();
    r.state = a->state;
    r.state_entry_time = a->state_entry_time;
    for (int i = 0; i < 4; i++) r.time[i] = a->time[i];
    arch::mb();
  } while ((before & xen::XEN_RUNSTATE_UPDATE) || a->state_entry_time != before);
  return r;
}

void print(const char* what, const xen::vcpu_runstate_info& r) {
  const uint64_t busy = r.time[xen::RUNSTATE_running] + r.time[xen::RUNSTATE_runnable];
  con::printf("RUNSTATE %s state=%d running=%lums runnable=%lums blocked=%lums offline=%lums steal=%lu%%\n", what,
              r.state, static_cast<unsigned long>(r.time[0] / kMs), static_cast<unsigned long>(r.time[1] / kMs),
              static_cast<unsigned long>(r.time[2] / kMs), static_cast<unsigned long>(r.time[3] / kMs),
              static_cast<unsigned long>(busy ? r.time[xen::RUNSTATE_runnable] * 100 / busy : 0));
}
}  // namespace

void run_runstate(uint64_t seconds) {
  xen::vcpu::register_runstate_memory_area reg{uint64_t(&area[0])};
  long rc = hv::vcpu_op(xen::vcpu::op::register_runstate_memory_area, 0, &reg);
  con::printf("RUNSTATE registered rc=%ld\n", rc);
  xen::vcpu_runstate_info start{};
  hv::vcpu_op(xen::vcpu::op::get_runstate_info, 0, &start);
  const uint64_t t0 = pvclock::now();
  uint64_t next_print = t0 + 1000 * kMs;
  volatile uint64_t count = 0;
  while (pvclock::now() - t0 < seconds * 1000 * kMs) {
    // Busy, with a hypercall every ~10 ms so the host sees the vCPU often.
    const uint64_t until = pvclock::now() + 10 * kMs;
    while (pvclock::now() < until) count = count + 1;
    xen::vcpu_runstate_info now{};
    hv::vcpu_op(xen::vcpu::op::get_runstate_info, 0, &now);
    if (pvclock::now() >= next_print) {
      next_print += 1000 * kMs;
      print("area", read_area(0));
    }
  }
  xen::vcpu_runstate_info end{};
  rc = hv::vcpu_op(xen::vcpu::op::get_runstate_info, 0, &end);
  const xen::vcpu_runstate_info a = read_area(0);
  bool area_ok = rc == 0 && a.state == xen::RUNSTATE_running;
  for (int i = 0; i < 4; i++) area_ok = area_ok && a.time[i] <= end.time[i];
  xen::vcpu_runstate_info during{};
  for (int i = 0; i < 4; i++) during.time[i] = end.time[i] - start.time[i];
  during.state = end.state;
  print("total", end);
  print("done", during);  // the busy seconds alone
  con::printf("RUNSTATE area %s (get_runstate_info rc=%ld)\n", area_ok ? "ok" : "BAD", rc);
}
