// Which guest frames hold memory: the domain's reservation, as Xen keeps
// it per domain (tot_pages, max_pages, the p2m). XENMEM_decrease_reservation
// gives frames back (their range of the guest-RAM memfd is punched out, so
// the host really gets the memory back); XENMEM_populate_physmap puts
// zeroed memory back at frames the guest names, never beyond the ceiling
// (maxmem). The record is one bit per frame in the grant-state region
// (GrantShared's ballooned-out bitmap), so pv-backd sees the same frames
// as populated and refuses grants of the others.
//
// Every guest value is checked: the extent must lie inside RAM, each frame
// be populated (decrease) or ballooned out (populate) and not special (the
// ring pages, boot data, vcpu_info pages: `is_special`; shared_info and
// grant frames: the Xen pages placed with xen_page_placed()). As in Xen,
// the answer is the number of extents done: processing stops at the first
// extent that is refused, and a refused extent changes nothing.
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "memory/guest_memory.h"

namespace pv {

class Reservation {
 public:
  // Xen's limit for a domU's extent order (CONFIG_DOMU_MAX_ORDER): 2 MiB.
  static constexpr uint32_t kMaxOrder = 9;
  // Frames handled in one call; the guest is told how many extents were
  // done and asks again for the rest (Xen would preempt and continue).
  static constexpr uint64_t kMaxPagesPerCall = 1u << 16;  // 256 MiB
  // Xen refuses (does nothing for) a count its continuation cannot encode.
  static constexpr uint64_t kMaxExtents = UINT32_MAX >> 6;

  // Extent i's first guest frame, read from the guest; false: fault.
  using ReadExtent = std::function<bool(uint64_t i, uint64_t& gfn)>;
  using IsSpecial = std::function<bool(uint64_t gfn)>;

  // `absent`: the bitmap (GrantShared::absent_bytes(mem.pages()) long).
  // Frames [absent_first, absent_end) start ballooned out; the ceiling
  // starts at every frame of `mem`. Those boot-time frames are like Xen's
  // populate-on-demand entries for a domain built with memory < maxmem:
  // the guest sees them as RAM and may give them back once with
  // decrease_reservation (Linux's balloon driver, starting from the memory
  // map, does so on its way down to the target), which frees nothing and
  // leaves current() as it is.
  Reservation(const GuestMemory& mem, uint64_t* absent, uint64_t absent_first, uint64_t absent_end,
              IsSpecial is_special);

  // Extents [start, nr) of order `order`; returns start + the number done.
  uint64_t decrease(uint64_t start, uint64_t nr, uint32_t order, const ReadExtent& read);
  uint64_t populate(uint64_t start, uint64_t nr, uint32_t order, const ReadExtent& read);
  // XENMEM_increase_reservation hands a translated guest memory at no
  // frame it can reach; like a Xen out of memory for it, it does nothing
  // (guests use populate_physmap). Returns `start`.
  uint64_t increase(uint64_t start, uint64_t nr, uint32_t order);

  uint64_t current() const;  // populated RAM frames (Xen's tot_pages)
  uint64_t maximum() const;  // the ceiling (Xen's max_pages)
  uint64_t ballooned_out() const;
  uint64_t ram_pages() const { return mem_.pages(); }
  // New ceiling in frames (mem-max); may be below current(), which then
  // only stops growth, as in Xen.
  void set_maximum(uint64_t pages);
  bool populated(uint64_t gfn) const;

  // A restored domain (docs/save-format.md): the frames of `runs` (first
  // frame, count; the stream's memory, already in RAM) and the special
  // frames are populated, every other frame is ballooned out, as one given
  // back in [pod_first, pod_end) (the range a boot with the saved memory
  // leaves unpopulated: the guest may give such a frame back once more)
  // and as a hole elsewhere. Call before the guest runs and before any Xen
  // page is placed. `max_pages` is the saved ceiling.
  void restore(const std::vector<std::pair<uint64_t, uint64_t>>& runs, uint64_t pod_first, uint64_t pod_end,
               uint64_t max_pages);

  // A Xen page (shared_info, a grant frame) now lives at `gfn`: it is
  // backed and special; the RAM frame that was there, if any, is freed
  // from the reservation, as Xen frees the page it replaces.
  void xen_page_placed(uint64_t gfn);
  // It moved away: the frame is a hole again (punched out).
  void xen_page_removed(uint64_t gfn);

 private:
  bool absent(uint64_t gfn) const;
  void set_absent(uint64_t gfn, bool absent);
  bool refusable(uint64_t gfn) const;  // special or a Xen page
  bool boot_absent(uint64_t gfn) const;
  void punch(uint64_t gfn, uint64_t pages) const;

  const GuestMemory& mem_;
  uint64_t* const absent_;
  const IsSpecial is_special_;
  mutable std::mutex mu_;
  uint64_t populated_;  // RAM frames backed, not counting Xen pages
  uint64_t maximum_;
  std::set<uint64_t> xen_pages_;
  std::vector<uint64_t> boot_absent_;  // bit per frame: ballooned out at boot, not yet given back
};

}  // namespace pv
