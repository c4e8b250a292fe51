// pvguest: IDT, exception reporting and the event-channel upcall vectors.
#include <xen/xen.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "kernel.h"

extern "C" uint8_t isr_stubs[];

namespace {
struct [[gnu::packed]] IdtGate {
  uint16_t off_lo;
  uint16_t sel;
  uint8_t ist;
  uint8_t type;
  uint16_t off_mid;
  uint32_t off_hi;
  uint32_t zero;
};
static_assert(sizeof(IdtGate) == 16);
struct [[gnu::packed]] IdtPtr {
  uint16_t limit;
  uint64_t base;
};
alignas(16) IdtGate idt[256];
IdtPtr idt_ptr;

struct TrapFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;
};

const char* const kNames[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
                                "#NP", "#SS", "#GP", "#PF", "RSV", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
                                "RSV", "RSV", "RSV", "RSV", "RSV", "RSV", "#HV", "#VC", "#SX", "RSV"};
}  // namespace

namespace k {
void traps_init() {
  for (unsigned v = 0; v < 256; v++) {
    uint64_t a = uint64_t(isr_stubs) + v * 16;
    idt[v] = IdtGate{uint16_t(a), 0x08, 0, 0x8e, uint16_t(a >> 16), uint32_t(a >> 32), 0};
  }
  idt_ptr = IdtPtr{sizeof(idt) - 1, uint64_t(idt)};
  load_idt();
}
void load_idt() { asm volatile("lidt %0" ::"m"(idt_ptr)); }
}  // namespace k

extern "C" void trap_dispatch(TrapFrame* f) {
  unsigned cpu = k::this_cpu();
  if (f->vector == k::kCallbackVector || f->vector == k::kUpcallVector) {
    evt::upcall(cpu, f->vector == k::kCallbackVector ? 0 : 1);
    return;
  }
  if (f->vector >= 32) {
    if (cpu < k::kMaxCpus) arch::atomic_inc(&k::cpus[cpu].spurious);
    return;
  }
  con::flush(100000000ull);  // keep ring output ahead of the crash report
  con::emergency("pvguest: EXCEPTION %s vector=%lu error=0x%lx rip=0x%lx cr2=0x%lx rsp=0x%lx cpu=%u\n",
                 kNames[f->vector], f->vector, f->error, f->rip, arch::read_cr2(), f->rsp, cpu);
  k::shutdown(xen::shutdown::crash);
}
