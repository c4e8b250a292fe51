// The grant-table state a domain's back-end process sees (host-internal,
// not Xen ABI). pv-hv keeps it in a memfd that it hands to pv-backd over
// the back-end link (hv/belink): page 0 says where the guest placed each
// grant frame; the pages after it hold one pin word per grant reference,
// counting the back-end's current uses of that grant. pv-hv writes the
// frame list; the back-end process updates the pins; when the back-end
// goes away pv-hv walks the pins to clear GTF_reading/GTF_writing on every
// grant the dead process still held, as Xen does when a domain that mapped
// grants dies.
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
  // A pin word: readers in the low 16 bits, writers in the high 16.
  static constexpr uint64_t bytes_for(uint32_t max_frames) {
    const uint64_t pins = uint64_t(max_frames) * xen::gnttab::kEntriesPerFrameV1 * sizeof(uint32_t);
    return kPinsOffset + ((pins + 4095) & ~uint64_t{4095});
  }
};
static_assert(sizeof(GrantShared) <= GrantShared::kPinsOffset);

}  // namespace pv
