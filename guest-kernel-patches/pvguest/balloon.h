// pvguest: the balloon driver, after Linux's drivers/xen/balloon.c and
// xen-balloon.c. It follows `memory/target` (KiB, as xl/pvd write it) both
// ways: pages taken from the page allocator are given back with
// XENMEM_decrease_reservation, and taken again with XENMEM_populate_physmap,
// in batches of one frame list (512 frames) per hypercall.
//
// What the domain holds is the host's count, XENMEM_current_reservation
// (populated RAM frames, Xen's tot_pages), plus the RAM frames its Xen
// pages (shared_info, grant frames) took the place of, plus free pages it
// reported (enable_free_page_reporting); the target is met when that equals
// memory/target / 4. Only pages of the allocator's span are ever given back,
// so the kernel image (page tables, shared_info, grant frames, stacks), the
// boot data and the console/xenstore rings (reserved in the memory map) never
// are.
//
// A domain built with memory < maxmem starts with the frames from
// (memory - 2 pages) up to the special pages ballooned out (docs/
// running-a-domain.md, "Memory"): start() works out how many from the
// reservation, takes those frames from the allocator and gives them back
// once (which frees nothing on the host: they were never populated), so
// they can be populated again later like any ballooned page.
//
// Reported in xenstore: control/feature-balloon = 1 (what xapi's squeezed
// and the Windows / xe-guest-utilities drivers use; Linux itself writes no
// key and its toolstack reads tot_pages from Xen), and, each time the target
// is reached, data/meminfo_total and data/meminfo_free in KiB (the keys
// xe-guest-utilities writes): the memory held and the allocator's free part.
#pragma once
#include <stdint.h>

namespace balloon {

inline constexpr unsigned kBatch = 512;  // frames per hypercall (one page of xen_pfn_t)

// Hooks for a mode that owns most of the memory (memtouch). All optional.
struct Hooks {
  // The allocator has no free page: give back up to `pages` pages to mm;
  // returns how many were freed.
  uint64_t (*reclaim)(uint64_t pages) = nullptr;
  // A run of allocator pages is about to be given back.
  void (*going)(void* p, uint64_t pages) = nullptr;
  // A run came back from the host (zeroed), before it goes back to mm.
  void (*back)(void* p, uint64_t pages) = nullptr;
  // The target was reached (after the `BALLOON reached` line).
  void (*reached)() = nullptr;
};

struct Stats {
  uint64_t target_pages;     // memory/target / 4, or the current reservation before any target came
  uint64_t current_pages;    // held: XENMEM_current_reservation + Xen pages + reported free pages
  uint64_t ballooned_pages;  // frames of the span this driver holds given back
  uint64_t boot_ballooned;   // of them, the frames that started ballooned out
  uint64_t decrease_calls, populate_calls;
  uint64_t refused;          // frames the host refused (decrease or populate)
};

// Starts xenbus (and control/shutdown) if needed, takes the frames that
// started ballooned out, watches memory/target, writes control/feature-balloon.
// False (with a printed reason) when there is no xenstore or no allocator.
bool start(const Hooks& hooks = Hooks{});
// Balloons toward the target until it is reached (or cannot be: the host's
// ceiling, no free pages), serving watch events between batches.
void settle();
// settle() forever, blocking for watch events in between (control/shutdown
// included); never returns.
[[noreturn]] void run();
Stats stats();

// Free-page reporting: from now on a run of at least `min_pages` pages freed
// to the allocator is given back to the host with decrease_reservation (a
// hint: the pages stay the allocator's, and count as held for the target),
// and populate_physmap takes them back when they are allocated again
// (mm::ReportHooks). Needs no xenstore.
void enable_free_page_reporting(uint64_t min_pages = kBatch);
struct ReportStats {
  uint64_t reported, repopulated, refused;  // pages
};
ReportStats report_stats();

}  // namespace balloon
