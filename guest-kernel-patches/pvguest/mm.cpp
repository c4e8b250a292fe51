// pvguest: page allocator (first-fit bitmap over the free RAM span).
#include "mm.h"

#include <xen/memory.h>

#include "arch.h"
#include "console.h"
#include "kernel.h"

extern "C" uint8_t __kernel_end[];

namespace mm {
namespace {
arch::SpinLock lock;
bool ready = false;
bool tried = false;
uint64_t base = 0;        // guest-physical address of page 0 of the span
uint64_t npages = 0;      // pages in the span
uint64_t* bitmap = nullptr;  // bit set = page in use (or never usable)
uint64_t nfree = 0;
uint64_t hint = 0;        // first page worth looking at

inline bool used(uint64_t i) { return (bitmap[i / 64] >> (i % 64)) & 1; }
inline void set_used(uint64_t i) { bitmap[i / 64] |= 1ull << (i % 64); }
inline void set_free(uint64_t i) { bitmap[i / 64] &= ~(1ull << (i % 64)); }

bool is_ram(uint64_t a) {
  bool ram = false;
  for (unsigned i = 0; i < k::memmap_entries; i++) {
    const auto& e = k::memmap[i];
    if (a < e.addr || a - e.addr >= e.size) continue;
    if (e.type != xen::mem::E820_RAM) return false;  // reserved wins over RAM
    ram = true;
  }
  return ram;
}

bool do_init() {
  tried = true;
  const uint64_t lo = (uint64_t(__kernel_end) + kPageSize - 1) & ~(kPageSize - 1);
  // The RAM region holding the end of the kernel image, clipped to 4 GiB.
  uint64_t hi = 0;
  for (unsigned i = 0; i < k::memmap_entries; i++) {
    const auto& e = k::memmap[i];
    if (e.type == xen::mem::E820_RAM && lo >= e.addr && lo < e.addr + e.size) hi = e.addr + e.size;
  }
  if (hi > k::kIdentityMapEnd) hi = k::kIdentityMapEnd;
  hi &= ~(kPageSize - 1);
  if (hi <= lo + 2 * kPageSize) {
    con::printf("mm: no free RAM after the kernel image (end 0x%lx)\n", lo);
    return false;
  }
  base = lo;
  npages = (hi - lo) >> kPageShift;
  const uint64_t words = (npages + 63) / 64;
  const uint64_t bm_pages = (words * 8 + kPageSize - 1) >> kPageShift;
  bitmap = reinterpret_cast<uint64_t*>(base);
  zero_words(bitmap, bm_pages << kPageShift);
  // Bits past the end of the span stay "used" so no run reaches them.
  for (uint64_t i = npages; i < words * 64; i++) set_used(i);
  for (uint64_t i = 0; i < bm_pages; i++) set_used(i);
  const uint64_t mod_lo = k::module_paddr & ~(kPageSize - 1);
  const uint64_t mod_hi = k::module_paddr + k::module_size;
  nfree = 0;
  for (uint64_t i = bm_pages; i < npages; i++) {
    const uint64_t a = base + (i << kPageShift);
    const bool in_module = k::module_size && a + kPageSize > mod_lo && a < mod_hi;
    if (in_module || !is_ram(a) || !is_ram(a + kPageSize - 1)) set_used(i);
    else nfree++;
  }
  hint = bm_pages;
  ready = true;
  return true;
}
}  // namespace

bool init() {
  uint64_t f = arch::lock_irqsave(lock);
  bool ok = ready || (!tried && do_init());
  arch::unlock_irqrestore(lock, f);
  return ok;
}

void* alloc_pages(size_t n, unsigned flags) {
  if (n == 0) return nullptr;
  uint64_t f = arch::lock_irqsave(lock);
  if (!ready && !(!tried && do_init())) {
    arch::unlock_irqrestore(lock, f);
    return nullptr;
  }
  uint64_t found = ~0ull;
  // First fit from the hint; whole used words are skipped 64 pages at a time.
  for (uint64_t i = hint; i + n <= npages;) {
    if ((i % 64) == 0 && bitmap[i / 64] == ~0ull) {
      i += 64;
      continue;
    }
    if (used(i)) {
      i++;
      continue;
    }
    uint64_t run = 1;
    while (run < n && !used(i + run)) run++;
    if (run == n) {
      found = i;
      break;
    }
    i += run + 1;
  }
  if (found == ~0ull) {
    arch::unlock_irqrestore(lock, f);
    return nullptr;
  }
  for (uint64_t i = found; i < found + n; i++) set_used(i);
  nfree -= n;
  if (found == hint) hint = found + n;
  arch::unlock_irqrestore(lock, f);
  void* p = reinterpret_cast<void*>(base + (found << kPageShift));
  if (!(flags & kNoZero)) zero_words(p, n << kPageShift);
  return p;
}

void free_pages(void* p, size_t n) {
  if (!p || !n) return;
  uint64_t a = uint64_t(p);
  uint64_t f = arch::lock_irqsave(lock);
  if (!ready || a < base || (a & (kPageSize - 1)) || ((a - base) >> kPageShift) + n > npages) {
    arch::unlock_irqrestore(lock, f);
    con::printf("mm: free_pages(%p, %lu) outside the span\n", p, uint64_t(n));
    return;
  }
  uint64_t first = (a - base) >> kPageShift;
  uint64_t bad = 0;
  for (uint64_t i = first; i < first + n; i++) {
    if (!used(i)) {
      bad++;
      continue;
    }
    set_free(i);
    nfree++;
  }
  if (first < hint) hint = first;
  arch::unlock_irqrestore(lock, f);
  if (bad) con::printf("mm: free_pages(%p, %lu): %lu pages were not allocated\n", p, uint64_t(n), bad);
}

// `rep stosq` / `rep movsq`: one instruction for the whole run, which an
// emulating KVM executes far faster than a loop of moves.
void zero_words(void* d, size_t bytes) {
  uint64_t n = bytes / 8;
  asm volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
}
void copy_words(void* d, const void* s, size_t bytes) {
  uint64_t n = bytes / 8;
  asm volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

}  // namespace mm
