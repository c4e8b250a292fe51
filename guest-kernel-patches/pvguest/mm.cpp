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
uint64_t* unbacked = nullptr;  // bit set = free page given back to the host (reported)
uint64_t nunbacked = 0;
ReportHooks report_hooks{};

inline bool used(uint64_t i) { return (bitmap[i / 64] >> (i % 64)) & 1; }
inline void set_used(uint64_t i) { bitmap[i / 64] |= 1ull << (i % 64); }
inline void set_free(uint64_t i) { bitmap[i / 64] &= ~(1ull << (i % 64)); }
inline bool is_unbacked(uint64_t i) { return (unbacked[i / 64] >> (i % 64)) & 1; }
// Bits [a, b) of `map` set to `v`, whole words where they can be: the
// balloon moves hundreds of thousands of pages, and every emulated
// instruction costs ~1 us.
void fill_bits(uint64_t* map, uint64_t a, uint64_t b, bool v) {
  for (; a < b && (a % 64); a++) map[a / 64] = v ? map[a / 64] | (1ull << (a % 64)) : map[a / 64] & ~(1ull << (a % 64));
  for (; b - a >= 64 && a < b; a += 64) map[a / 64] = v ? ~0ull : 0;
  for (; a < b; a++) map[a / 64] = v ? map[a / 64] | (1ull << (a % 64)) : map[a / 64] & ~(1ull << (a % 64));
}
// True when no bit of [a, b) is set.
bool all_clear(const uint64_t* map, uint64_t a, uint64_t b) {
  while (a < b) {
    if (!(a % 64) && b - a >= 64) {
      if (map[a / 64]) return false;
      a += 64;
      continue;
    }
    if ((map[a / 64] >> (a % 64)) & 1) return false;
    a++;
  }
  return true;
}
// True when every bit of [a, b) is set.
bool all_set(const uint64_t* map, uint64_t a, uint64_t b) {
  while (a < b) {
    if (!(a % 64) && b - a >= 64) {
      if (map[a / 64] != ~0ull) return false;
      a += 64;
      continue;
    }
    if (!((map[a / 64] >> (a % 64)) & 1)) return false;
    a++;
  }
  return true;
}

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
  const uint64_t one_map = (words * 8 + kPageSize - 1) >> kPageShift;
  const uint64_t bm_pages = 2 * one_map;  // the allocation bitmap, then the unbacked one
  bitmap = reinterpret_cast<uint64_t*>(base);
  unbacked = reinterpret_cast<uint64_t*>(base + (one_map << kPageShift));
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
    while (run < n) {
      const uint64_t j = i + run;
      if (!(j % 64) && n - run >= 64 && !bitmap[j / 64]) {
        run += 64;
        continue;
      }
      if (used(j)) break;
      run++;
    }
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
  fill_bits(bitmap, found, found + n, true);
  nfree -= n;
  if (found == hint) hint = found + n;
  uint64_t missing = 0;
  if (nunbacked && !all_clear(unbacked, found, found + n))
    for (uint64_t i = found; i < found + n; i++) missing += is_unbacked(i);
  arch::unlock_irqrestore(lock, f);
  void* p = reinterpret_cast<void*>(base + (found << kPageShift));
  // Reported pages come back from the host (zeroed) before they are used.
  for (uint64_t i = found; missing && i < found + n;) {
    if (!is_unbacked(i)) {
      i++;
      continue;
    }
    uint64_t e = i + 1;
    while (e < found + n && is_unbacked(e)) e++;
    const uint64_t done = report_hooks.populate ? report_hooks.populate((base >> kPageShift) + i, e - i) : 0;
    f = arch::lock_irqsave(lock);
    for (uint64_t j = i; j < i + done; j++) unbacked[j / 64] &= ~(1ull << (j % 64));
    nunbacked -= done;
    arch::unlock_irqrestore(lock, f);
    missing -= done;
    if (done < e - i) {
      con::printf("mm: the host did not give back reported pages (0x%lx, %lu of %lu)\n",
                  base + (i << kPageShift), done, e - i);
      free_pages(p, n);
      return nullptr;
    }
    i = e;
  }
  if (!(flags & kNoZero)) zero_words(p, n << kPageShift);
  return p;
}

void free_pages(void* p, size_t n, unsigned flags) {
  if (!p || !n) return;
  uint64_t a = uint64_t(p);
  uint64_t f = arch::lock_irqsave(lock);
  if (!ready || a < base || (a & (kPageSize - 1)) || ((a - base) >> kPageShift) + n > npages) {
    arch::unlock_irqrestore(lock, f);
    con::printf("mm: free_pages(%p, %lu) outside the span\n", p, uint64_t(n));
    return;
  }
  uint64_t first = (a - base) >> kPageShift;
  uint64_t reported = 0;
  const ReportHooks hooks = report_hooks;
  if (hooks.report && !(flags & kNoReport) && n >= hooks.min_pages) {
    if (all_set(bitmap, first, first + n)) {
      // The run is still ours (allocated) while the host takes it.
      arch::unlock_irqrestore(lock, f);
      reported = hooks.report(gfn(p), n);
      if (reported > n) reported = n;
      f = arch::lock_irqsave(lock);
    }
  }
  uint64_t bad = 0;
  if (all_set(bitmap, first, first + n)) {  // the usual case: a run that was allocated, freed whole
    fill_bits(bitmap, first, first + n, false);
    nfree += n;
    if (reported) fill_bits(unbacked, first, first + reported, true);
    nunbacked += reported;
    n = 0;  // nothing left for the page-by-page loop
  }
  for (uint64_t i = first; i < first + n; i++) {
    if (!used(i)) {
      bad++;
      continue;
    }
    set_free(i);
    nfree++;
    if (i - first < reported) {
      unbacked[i / 64] |= 1ull << (i % 64);
      nunbacked++;
    }
  }
  if (first < hint) hint = first;
  arch::unlock_irqrestore(lock, f);
  if (bad) con::printf("mm: free_pages(%p, %lu): %lu pages were not allocated\n", p, uint64_t(n), bad);
}

bool claim_pages(void* p, size_t n) {
  const uint64_t a = uint64_t(p);
  uint64_t f = arch::lock_irqsave(lock);
  bool ok = (ready || (!tried && do_init())) && n && a >= base && !(a & (kPageSize - 1)) &&
            ((a - base) >> kPageShift) + n <= npages;
  const uint64_t first = ok ? (a - base) >> kPageShift : 0;
  for (uint64_t i = first; ok && i < first + n; i++) ok = !used(i) && !is_unbacked(i);
  if (ok) {
    for (uint64_t i = first; i < first + n; i++) set_used(i);
    nfree -= n;
  }
  arch::unlock_irqrestore(lock, f);
  return ok;
}

void set_report_hooks(const ReportHooks& hooks) {
  uint64_t f = arch::lock_irqsave(lock);
  report_hooks = hooks;
  arch::unlock_irqrestore(lock, f);
}

uint64_t unbacked_page_count() {
  uint64_t f = arch::lock_irqsave(lock);
  uint64_t n = nunbacked;
  arch::unlock_irqrestore(lock, f);
  return n;
}

void span(uint64_t& base_paddr, uint64_t& pages) {
  uint64_t f = arch::lock_irqsave(lock);
  base_paddr = ready ? base : 0;
  pages = ready ? npages : 0;
  arch::unlock_irqrestore(lock, f);
}

uint64_t free_page_count() {
  uint64_t f = arch::lock_irqsave(lock);
  uint64_t n = ready ? nfree : 0;
  arch::unlock_irqrestore(lock, f);
  return n;
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
