// The grant-table state a domain's back-end process sees (host-internal,
// not Xen ABI). pv-hv keeps it in a memfd that it hands to pv-backd over
// the back-end link (hv/belink): page 0 says where the guest placed each
// grant frame; the pages after it hold one pin word per grant reference,
// counting the back-end's current uses of that grant. pv-hv writes the
// frame list; the back-end process updates the pins; when the back-end
// goes away pv-hv walks the pins to clear GTF_reading/GTF_writing on every
// grant the dead process still held, as Xen does when a domain that mapped
// grants dies. After the ballooned-out bitmap comes the written bitmap:
// the back-end sets a frame's bit when it lets go of a writable mapping of
// it (as Xen's gnttab_mark_dirty on unmap), and pv-hv takes and clears the
// bits during a live migration's pre-copy, with KVM's dirty log (which
// sees only the guest's own writes).
#pragma once
#include <cstdint>

#include <xen/grant_table.h>

namespace pv {

struct GrantShared {
  static constexpr uint32_t kMagic = 0x54474250;  // "PBGT"
  static constexpr uint32_t kMaxFrames = 64;
  static constexpr uint64_t kInvalidGfn = ~uint64_t{0};

  uint32_t magic;
  uint32_t max_frames;   // fixed at creation (<= kMaxFrames)
  uint32_t nr_frames;    // frames the guest set up (grows only)
  uint32_t reserved;
  uint64_t frame_gfn[kMaxFrames];  // kInvalidGfn: not placed yet

  static constexpr uint64_t kPinsOffset = 4096;
  static constexpr uint64_t page_round(uint64_t n) { return (n + 4095) & ~uint64_t{4095}; }
  // A pin word: readers in the low 16 bits, writers in the high 16.
  static constexpr uint64_t pins_bytes(uint32_t max_frames) {
    return page_round(uint64_t(max_frames) * xen::gnttab::kEntriesPerFrameV1 * sizeof(uint32_t));
  }
  // The ballooned-out bitmap: 64-bit words, bit (gfn % 64) of word gfn / 64.
  static constexpr uint64_t absent_offset(uint32_t max_frames) { return kPinsOffset + pins_bytes(max_frames); }
  static constexpr uint64_t absent_bytes(uint64_t ram_pages) { return page_round((ram_pages + 63) / 64 * 8); }
  // The written bitmap, laid out as the ballooned-out one.
  static constexpr uint64_t written_offset(uint32_t max_frames, uint64_t ram_pages) {
    return absent_offset(max_frames) + absent_bytes(ram_pages);
  }
  static constexpr uint64_t bytes_for(uint32_t max_frames, uint64_t ram_pages) {
    return written_offset(max_frames, ram_pages) + absent_bytes(ram_pages);
  }
};
static_assert(sizeof(GrantShared) <= GrantShared::kPinsOffset);

}  // namespace pv
