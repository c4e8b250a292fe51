// pvguest: secondary vCPUs.
#include "smp.h"

#include <xen/hvm.h>
#include <xen/sched.h>
#include <xen/vcpu.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "pvtime.h"
#include "vcpu_hotplug.h"

extern "C" void ap_entry64();

namespace {
// One vcpu_info per vCPU, 64 bytes each: never crosses a page.
alignas(4096) xen::vcpu_info vcpu_area[k::kMaxCpus];
static_assert(sizeof(vcpu_area) <= 4096);

// Asked to go (take_down): offline first, so run_on() and the boot vCPU
// see it gone, then VCPUOP_down on ourselves. The hypercall returns once
// VCPUOP_up brings us back, with everything as we left it.
void go_down(unsigned cpu) {
  k::PerCpu& pc = k::cpus[cpu];
  pc.online = 0;
  arch::mb();
  pc.down_req = 0;
  long rc = hv::vcpu_op(xen::vcpu::op::down, cpu, nullptr);
  if (rc != 0) con::printf("pvguest: cpu%u VCPUOP_down rc=%ld\n", cpu, rc);
  arch::mb();
  pc.online = 1;
}

[[noreturn]] void idle_loop(unsigned cpu) {
  k::PerCpu& pc = k::cpus[cpu];
  for (;;) {
    arch::cli();
    if (pc.down_req) {
      arch::sti();
      go_down(cpu);
      continue;
    }
    uint64_t req = pc.job_req;
    if (req != pc.job_done) {
      arch::sti();
      pc.job_fn(pc.job_arg);
      arch::mb();
      pc.job_done = req;
      continue;
    }
    if (hotplug::work_on) {
      arch::sti();
      hotplug::work_step(cpu);
      continue;
    }
    // sti;hlt: the hlt runs in the sti shadow, so an event that arrives
    // after the check above still ends the halt (the host blocks a halted
    // vCPU until evtchn_upcall_pending) and is injected on the way back in.
    asm volatile("sti; hlt" ::: "memory");
  }
}
}  // namespace

namespace smp {
long register_vcpu_info(unsigned cpu) {
  uint64_t a = uint64_t(&vcpu_area[cpu]);
  xen::vcpu::register_vcpu_info r{a >> xen::kPageShift, uint32_t(a & (xen::kPageSize - 1)), 0};
  long rc = hv::vcpu_op(xen::vcpu::op::register_vcpu_info, cpu, &r);
  if (rc == 0) k::cpus[cpu].vi = &vcpu_area[cpu];
  return rc;
}
long vcpu_is_up(unsigned cpu) { return hv::vcpu_op(xen::vcpu::op::is_up, cpu, nullptr); }
long setup_upcall_vector(unsigned cpu) {
  xen::hvm::evtchn_upcall_vector u{};
  u.vcpu = cpu;
  u.vector = k::kUpcallVector;
  return hv::hvm_op(xen::hvm::op::set_evtchn_upcall_vector, &u);
}

long bring_up(unsigned cpu) {
  if (cpu == 0 || cpu >= k::nr_cpus) return -xen::XEN_EINVAL;
  k::PerCpu& pc = k::cpus[cpu];
  long rc;
  if (!pc.initialised) {
    xen::hvm::vcpu_hvm_context ctx{};
    ctx.mode = xen::hvm::VCPU_HVM_MODE_64B;
    auto& r = ctx.cpu_regs.x86_64;
    r.rip = uint64_t(&ap_entry64);
    r.rsp = uint64_t(k::cpu_stacks) + (cpu + 1) * k::kStackSize;
    r.rdi = cpu;
    r.rflags = 0x2;
    r.cr0 = arch::read_cr0();
    r.cr3 = arch::read_cr3();
    r.cr4 = arch::read_cr4();
    r.efer = arch::rdmsr(0xC0000080);
    rc = hv::vcpu_op(xen::vcpu::op::initialise, cpu, &ctx);
    if (rc != 0) {
      con::printf("pvguest: cpu%u VCPUOP_initialise rc=%ld\n", cpu, rc);
      return rc;
    }
    pc.initialised = 1;
  }
  rc = hv::vcpu_op(xen::vcpu::op::up, cpu, nullptr);
  if (rc != 0) {
    con::printf("pvguest: cpu%u VCPUOP_up rc=%ld\n", cpu, rc);
    return rc;
  }
  uint64_t end = pvclock::now() + 2000000000ull;
  while (!pc.online && pvclock::now() < end) arch::pause();
  if (!pc.online) {
    con::printf("pvguest: cpu%u did not come online\n", cpu);
    return -xen::XEN_ETIMEDOUT;
  }
  return 0;
}

long take_down(unsigned cpu) {
  if (cpu == 0 || cpu >= k::nr_cpus) return -xen::XEN_EINVAL;
  k::PerCpu& pc = k::cpus[cpu];
  if (vcpu_is_up(cpu) == 0) return 0;
  pc.down_req = 1;
  arch::mb();
  evt::send(pc.ipi_port);  // out of its halt
  uint64_t end = pvclock::now() + 2000000000ull;
  long up;
  while ((up = vcpu_is_up(cpu)) == 1 && pvclock::now() < end) arch::pause();
  if (up != 0) {
    con::printf("pvguest: cpu%u did not go down (is_up=%ld)\n", cpu, up);
    return up < 0 ? up : -xen::XEN_ETIMEDOUT;
  }
  return 0;
}
}  // namespace smp

extern "C" [[noreturn]] void ap_main(uint64_t cpu) {
  k::load_idt();
  long rc = smp::register_vcpu_info(unsigned(cpu));
  if (rc != 0) con::emergency("pvguest: cpu%lu register_vcpu_info rc=%ld\n", cpu, rc);
  rc = smp::setup_upcall_vector(unsigned(cpu));
  if (rc != 0) con::emergency("pvguest: cpu%lu set_evtchn_upcall_vector rc=%ld\n", cpu, rc);
  arch::mb();
  k::cpus[cpu].online = 1;
  idle_loop(unsigned(cpu));
}

namespace k {

void smp_init() {
  nr_cpus = 1;
  for (unsigned v = 1; v < kMaxCpus; v++) {
    long rc = smp::vcpu_is_up(v);
    if (rc < 0) break;  // -ENOENT: no such vCPU
    nr_cpus = v + 1;
  }
  for (unsigned v = 1; v < nr_cpus; v++) {
    PerCpu& pc = cpus[v];
    long rc = evt::bind_ipi(v, pc.ipi_port);
    if (rc == 0) rc = evt::unmask(pc.ipi_port);
    if (rc != 0) con::printf("pvguest: cpu%u bind_ipi rc=%ld\n", v, rc);
    if (!timer::bind_timer_virq(v)) con::printf("pvguest: cpu%u bind_virq(TIMER) failed\n", v);

    smp::bring_up(v);
  }
}

bool run_on(unsigned cpu, void (*fn)(void*), void* arg, uint64_t timeout_ns) {
  if (cpu == this_cpu()) {
    fn(arg);
    return true;
  }
  PerCpu& pc = cpus[cpu];
  if (!pc.online) return false;
  if (pc.job_req != pc.job_done) return false;  // previous job still stuck
  pc.job_fn = fn;
  pc.job_arg = arg;
  arch::mb();
  uint64_t req = pc.job_req + 1;
  pc.job_req = req;
  evt::send(pc.ipi_port);
  uint64_t end = pvclock::now() + timeout_ns;
  while (pc.job_done != req) {
    if (pvclock::now() > end) return false;
    arch::pause();
  }
  arch::mb();
  return true;
}

}  // namespace k
