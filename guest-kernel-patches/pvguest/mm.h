// pvguest: a page allocator for free RAM above the kernel image.
//
// The span it manages is the RAM region (from the start info's memory map)
// that holds the end of the kernel image, from the first page after
// __kernel_end up to the end of that region (at most the 4 GiB identity
// map). Reserved ranges inside it and the initrd (module 0) are never
// handed out. One bit per page, kept in the first pages of the span itself.
//
// Memory is identity mapped, so a page's address is its guest-physical
// address and gfn(p) is what a grant or a hypercall wants. Every call is
// safe from any vCPU (one interrupt-safe lock); nothing here may be called
// from an upcall handler.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace mm {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

// Finds the span and builds the bitmap; done by the first allocation if
// nobody called it. False when there is no usable free RAM.
bool init();

// `n` contiguous zeroed pages (first fit), or nullptr when no run is free.
// kNoZero skips the zeroing (~0.3 ms per page when emulated) for buffers
// the caller fills anyway.
inline constexpr unsigned kNoZero = 1;
void* alloc_pages(size_t n, unsigned flags = 0);
inline void* alloc_page() { return alloc_pages(1); }
// Returns pages from alloc_pages (any sub-run of them may be freed alone).
// Freeing a page that is not allocated is reported and ignored.
// kNoReport: never offer the run to free-page reporting (the balloon's own
// pages, which it just took back or is about to give back).
inline constexpr unsigned kNoReport = 2;
void free_pages(void* p, size_t n, unsigned flags = 0);
inline void free_page(void* p) { free_pages(p, 1); }

// Marks the free run [p, p + n pages) allocated, as alloc_pages would:
// false (and nothing changes) when any of it is outside the span or in use.
// The balloon driver takes the frames that start ballooned out this way.
bool claim_pages(void* p, size_t n);
// The span: its first page's address and its length in pages (0 before
// init), and the pages free now.
void span(uint64_t& base_paddr, uint64_t& pages);
uint64_t free_page_count();

// Free-page reporting (as Linux's page_reporting, over Xen's reservation
// ops): once hooks are set, a free of at least `min_pages` pages first
// offers the run to `report` (which gives the frames back to the host and
// returns how many of the first it did); those pages are free but not
// backed. alloc_pages hands such a page out only after `populate` took it
// back (it returns how many of the run it did; a short answer fails the
// allocation). Reporting is a hint: the pages stay the allocator's.
struct ReportHooks {
  uint64_t (*report)(uint64_t gfn, uint64_t pages);
  uint64_t (*populate)(uint64_t gfn, uint64_t pages);
  uint64_t min_pages;
};
void set_report_hooks(const ReportHooks& hooks);
uint64_t unbacked_page_count();  // free pages reported and not taken back

inline uint64_t gfn(const void* p) { return uint64_t(p) >> kPageShift; }
inline uint64_t paddr(const void* p) { return uint64_t(p); }

// Word-wise helpers for page-sized data (the guest's instructions are
// emulated: byte loops cost ~8x more). Both require 8-byte aligned pointers
// and a length that is a multiple of 8.
void zero_words(void* d, size_t bytes);
void copy_words(void* d, const void* s, size_t bytes);

}  // namespace mm
