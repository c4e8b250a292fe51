// A domain's grant table, version 1.
//
// Grant frames live in guest RAM at the frame numbers the guest chose with
// XENMEM_add_to_physmap (moving a frame copies its entries). The guest
// writes entries; a back-end "acquires" a reference to use the granted
// frame: the entry must permit access to that back-end's domain, allow the
// access wanted, and name a frame inside the guest's RAM. Acquisition sets
// GTF_reading / GTF_writing atomically, as Xen does, so the granting guest
// can tell when a grant is still in use.
#pragma once
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include <xen/grant_table.h>

#include "memory/guest_memory.h"

namespace pv {

class GrantTable {
 public:
  static constexpr uint32_t kDefaultMaxFrames = 32;
  static constexpr uint64_t kInvalidGfn = ~uint64_t{0};

  GrantTable(const GuestMemory& mem, uint32_t max_frames = kDefaultMaxFrames);

  uint32_t version() const { return 1; }
  uint32_t nr_frames() const;
  uint32_t max_frames() const { return max_frames_; }
  // Frame i's guest frame number, or kInvalidGfn when not mapped.
  uint64_t frame_gfn(uint32_t i) const;

  // GNTTABOP_setup_table: grows the table to `nr` frames (GNTST_*).
  int16_t grow(uint32_t nr);
  // XENMEM_add_to_physmap(XENMAPSPACE_grant_table): places frame `idx` at
  // `gfn` (growing the table as needed). 0 or a negative Xen errno.
  int64_t map_frame(uint32_t idx, uint64_t gfn);

  // Back-end side. On success returns GNTST_okay and the granted frame.
  int16_t acquire(xen::grant_ref_t ref, xen::domid_t grantee, bool write, uint64_t& gfn);
  void release(xen::grant_ref_t ref, bool write);

 private:
  xen::gnttab::grant_entry_v1* entry(xen::grant_ref_t ref) const;  // caller holds mu_

  const GuestMemory& mem_;
  const uint32_t max_frames_;
  mutable std::mutex mu_;
  std::vector<uint64_t> frames_;  // gfn per frame
  struct Pins {
    uint32_t readers = 0, writers = 0;
  };
  std::map<xen::grant_ref_t, Pins> pins_;
};

}  // namespace pv
