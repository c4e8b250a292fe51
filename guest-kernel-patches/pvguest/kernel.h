// pvguest: kernel-wide declarations (per-CPU state, boot facts).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/memory.h>

namespace k {

inline constexpr unsigned kMaxCpus = 32;          // matches boot.S MAX_CPUS
inline constexpr uint64_t kStackSize = 16384;     // matches boot.S KSTACK_SIZE
inline constexpr uint8_t kCallbackVector = 0xf3;  // HVM_PARAM_CALLBACK_IRQ (vCPU0)
inline constexpr uint8_t kUpcallVector = 0xf2;    // HVMOP_set_evtchn_upcall_vector (APs)
inline constexpr uint64_t kIdentityMapEnd = 1ull << 32;

struct PerCpu {
  xen::vcpu_info* vi;            // registered vcpu_info
  volatile uint32_t online;      // AP reached its idle loop
  xen::evtchn_port_t timer_port;
  xen::evtchn_port_t ipi_port;   // bind_ipi to this vCPU (kick + IPI test)
  volatile uint64_t timer_fires;
  volatile uint64_t timer_last_ns;
  volatile uint64_t upcalls_by_vector[2];  // [0] = callback vector, [1] = upcall vector
  volatile uint64_t spurious;
  // run_on() mailbox
  void (*volatile job_fn)(void*);
  void* volatile job_arg;
  volatile uint64_t job_req, job_done;
  // vCPU hot-plug (smp::bring_up / take_down): the vCPU had VCPUOP_initialise;
  // it is asked to take itself down (VCPUOP_down on itself, as Linux's
  // play_dead).
  volatile uint32_t initialised;
  volatile uint32_t down_req;
  // The `vcpuwork` mode's counter and when it was last printed.
  volatile uint64_t work_count;
  uint64_t work_printed_ns;
};

extern PerCpu cpus[kMaxCpus];
extern unsigned nr_cpus;
extern xen::shared_info* shinfo;
extern uint32_t xen_cpuid_base;
extern uint16_t domid;

// Memory map as the start info gave it (copied at boot).
inline constexpr unsigned kMaxMemmap = 32;
extern xen::mem::e820_entry memmap[kMaxMemmap];
extern unsigned memmap_entries;
// Module 0 from start info (the initrd), if any.
extern uint64_t module_paddr, module_size;

extern "C" uint8_t cpu_stacks[];
// The current vCPU, from the stack we run on (interrupts use the same stack).
inline unsigned this_cpu() {
  uint64_t sp;
  asm volatile("mov %%rsp, %0" : "=r"(sp));
  return unsigned((sp - uint64_t(cpu_stacks)) / kStackSize);
}

[[noreturn]] void shutdown(uint32_t reason);

// smp.cpp
void smp_init();
bool run_on(unsigned cpu, void (*fn)(void*), void* arg, uint64_t timeout_ns = 2000000000ull);
void load_idt();
// traps.cpp
void traps_init();

}  // namespace k
