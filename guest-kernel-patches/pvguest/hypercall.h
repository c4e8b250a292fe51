// pvguest: hypercall wrappers. The host fills `hypercall_page` (one 32-byte
// stub per hypercall number) when we write its address to the hypercall MSR.
// Arguments go in rdi, rsi, rdx, r10, r8; the result comes back in rax.
#pragma once
#include <stdint.h>
#include <xen/xen.h>

extern "C" uint8_t hypercall_page[4096];

namespace hv {

inline long hcall(uint64_t nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0, uint64_t a5 = 0) {
  register uint64_t rdi asm("rdi") = a1;
  register uint64_t rsi asm("rsi") = a2;
  register uint64_t rdx asm("rdx") = a3;
  register uint64_t r10 asm("r10") = a4;
  register uint64_t r8 asm("r8") = a5;
  uint64_t fn = uint64_t(hypercall_page) + nr * xen::hc::kStubSize;
  long ret;
  asm volatile("call *%[fn]"
               : "=a"(ret), "+r"(rdi), "+r"(rsi), "+r"(rdx), "+r"(r10), "+r"(r8)
               : [fn] "a"(fn)
               : "memory", "rcx", "r11", "cc");
  return ret;
}
// hypercall0..3 bind only the argument registers they use (as Linux does);
// the others are declared clobbered, not zeroed. With a compile-time
// hypercall number they call the stub directly (`call hypercall_page+off`,
// as Linux does), otherwise through a register. Under an emulating KVM every
// instruction on the hypercall path costs ~0.5-1 us.
inline uint64_t stub(uint64_t nr) { return uint64_t(hypercall_page) + nr * xen::hc::kStubSize; }
#define PV_HYPERCALL(nr, outputs, clobbers)                                                          \
  do {                                                                                               \
    if (__builtin_constant_p(nr))                                                                    \
      asm volatile("call hypercall_page+%c[off]" : outputs : [off] "i"((nr) * xen::hc::kStubSize)     \
                   : "memory", "cc", "rcx", "r11", clobbers);                                        \
    else                                                                                             \
      asm volatile("call *%[fn]" : outputs : [fn] "a"(stub(nr)) : "memory", "cc", "rcx", "r11", clobbers); \
  } while (0)
#define PV_COMMA ,
[[gnu::always_inline]] inline long hypercall0(uint64_t nr) {
  long ret;
  PV_HYPERCALL(nr, "=a"(ret), "rdi" PV_COMMA "rsi" PV_COMMA "rdx" PV_COMMA "r10" PV_COMMA "r8");
  return ret;
}
[[gnu::always_inline]] inline long hypercall1(uint64_t nr, uint64_t a) {
  register uint64_t rdi asm("rdi") = a;
  long ret;
  PV_HYPERCALL(nr, "=a"(ret) PV_COMMA "+r"(rdi), "rsi" PV_COMMA "rdx" PV_COMMA "r10" PV_COMMA "r8");
  return ret;
}
[[gnu::always_inline]] inline long hypercall2(uint64_t nr, uint64_t a, uint64_t b) {
  register uint64_t rdi asm("rdi") = a;
  register uint64_t rsi asm("rsi") = b;
  long ret;
  PV_HYPERCALL(nr, "=a"(ret) PV_COMMA "+r"(rdi) PV_COMMA "+r"(rsi), "rdx" PV_COMMA "r10" PV_COMMA "r8");
  return ret;
}
[[gnu::always_inline]] inline long hypercall3(uint64_t nr, uint64_t a, uint64_t b, uint64_t c) {
  register uint64_t rdi asm("rdi") = a;
  register uint64_t rsi asm("rsi") = b;
  register uint64_t rdx asm("rdx") = c;
  long ret;
  PV_HYPERCALL(nr, "=a"(ret) PV_COMMA "+r"(rdi) PV_COMMA "+r"(rsi) PV_COMMA "+r"(rdx), "r10" PV_COMMA "r8");
  return ret;
}
inline long hypercall4(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d) { return hcall(nr, a, b, c, d); }
inline long hypercall5(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
  return hcall(nr, a, b, c, d, e);
}

template <class T>
inline uint64_t ptr(T* p) { return uint64_t(p); }

inline long xen_version(uint32_t cmd, void* arg) { return hypercall2(xen::hc::xen_version, cmd, ptr(arg)); }
inline long console_io(uint32_t cmd, uint64_t count, const void* buf) {
  return hypercall3(xen::hc::console_io, cmd, count, uint64_t(buf));
}
inline long memory_op(uint32_t cmd, void* arg) { return hypercall2(xen::hc::memory_op, cmd, ptr(arg)); }
inline long hvm_op(uint32_t cmd, void* arg) { return hypercall2(xen::hc::hvm_op, cmd, ptr(arg)); }
inline long vcpu_op(uint32_t cmd, uint32_t vcpu, void* arg) { return hypercall3(xen::hc::vcpu_op, cmd, vcpu, ptr(arg)); }
inline long evtchn_op(uint32_t cmd, void* arg) { return hypercall2(xen::hc::event_channel_op, cmd, ptr(arg)); }
inline long gnttab_op(uint32_t cmd, void* arg, uint32_t count) {
  return hypercall3(xen::hc::grant_table_op, cmd, ptr(arg), count);
}
inline long sched_op(uint32_t cmd, void* arg) { return hypercall2(xen::hc::sched_op, cmd, ptr(arg)); }

}  // namespace hv

#undef PV_COMMA
#undef PV_HYPERCALL
