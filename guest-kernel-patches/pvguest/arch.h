// pvguest: x86-64 instruction helpers (baseline x86-64, general registers
// only; nothing here needs KVM instruction emulation).
#pragma once
#include <stdint.h>

namespace arch {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t& a, uint32_t& b, uint32_t& c, uint32_t& d) {
  asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(leaf), "c"(sub));
}
inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)) : "memory");
}
inline uint64_t rdtsc_ordered() {
  uint32_t lo, hi;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
  return (uint64_t(hi) << 32) | lo;
}
inline uint64_t read_cr0() { uint64_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline uint64_t read_cr2() { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline uint64_t read_cr4() { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline uint64_t read_rsp() { uint64_t v; asm volatile("mov %%rsp, %0" : "=r"(v)); return v; }
inline uint64_t read_flags() { uint64_t v; asm volatile("pushfq; popq %0" : "=r"(v)::"memory"); return v; }

inline void cli() { asm volatile("cli" ::: "memory"); }
inline void sti() { asm volatile("sti" ::: "memory"); }
inline void pause() { asm volatile("pause" ::: "memory"); }
inline void barrier() { asm volatile("" ::: "memory"); }
inline void mb() { asm volatile("mfence" ::: "memory"); }
inline void rmb() { asm volatile("lfence" ::: "memory"); }
inline void wmb() { asm volatile("sfence" ::: "memory"); }
[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt" ::: "memory");
}

// Bit scan without tzcnt/popcnt (x must be nonzero).
inline unsigned ffs64(uint64_t x) {
  uint64_t r;
  asm("bsfq %1, %0" : "=r"(r) : "rm"(x) : "cc");
  return unsigned(r);
}

// Atomic bit ops on a 64-bit word array (lock-prefixed).
inline bool test_and_clear_bit(unsigned nr, volatile uint64_t* words) {
  bool old;
  asm volatile("lock btrq %2, %1" : "=@ccc"(old), "+m"(words[nr / 64]) : "r"(uint64_t(nr % 64)) : "memory");
  return old;
}
inline bool test_and_set_bit(unsigned nr, volatile uint64_t* words) {
  bool old;
  asm volatile("lock btsq %2, %1" : "=@ccc"(old), "+m"(words[nr / 64]) : "r"(uint64_t(nr % 64)) : "memory");
  return old;
}
inline bool test_bit(unsigned nr, const volatile uint64_t* words) { return (words[nr / 64] >> (nr % 64)) & 1; }
inline uint64_t xchg64(volatile uint64_t* p, uint64_t v) {
  asm volatile("xchgq %0, %1" : "+r"(v), "+m"(*p)::"memory");
  return v;
}
inline uint32_t xchg32(volatile uint32_t* p, uint32_t v) {
  asm volatile("xchgl %0, %1" : "+r"(v), "+m"(*p)::"memory");
  return v;
}
inline void atomic_inc(volatile uint64_t* p) { asm volatile("lock incq %0" : "+m"(*p)::"memory"); }

// Interrupt-safe spinlock (saves/restores IF).
struct SpinLock {
  volatile uint32_t v = 0;
};
inline uint64_t lock_irqsave(SpinLock& l) {
  uint64_t f = read_flags();
  cli();
  while (xchg32(&l.v, 1)) pause();
  return f;
}
inline void unlock_irqrestore(SpinLock& l, uint64_t f) {
  barrier();
  l.v = 0;
  if (f & (1u << 9)) sti();
}

}  // namespace arch
