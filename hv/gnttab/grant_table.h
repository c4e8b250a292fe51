// A domain's grant table, version 1.
//
// Grant frames live in guest RAM at the frame numbers the guest chose with
// XENMEM_add_to_physmap (moving a frame copies its entries). Where each
// frame is, and the back-end's pins, are kept in a GrantShared region (a
// memfd) so the back-end daemon can use grants itself, through the same
// GrantAccess rules, without a round trip to pv-hv per request.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>

#include <xen/grant_table.h>

#include "pv/grant_access.h"
#include "pv/grant_shared.h"
#include "memory/guest_memory.h"
#include "pv/mapping.h"
#include "pv/unique_fd.h"

namespace pv {

class GrantTable {
 public:
  static constexpr uint32_t kDefaultMaxFrames = 32;
  static constexpr uint64_t kInvalidGfn = GrantShared::kInvalidGfn;

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

  // Back-end side (see GrantAccess).
  int16_t acquire(xen::grant_ref_t ref, xen::domid_t grantee, bool write, uint64_t& gfn) {
    return access_->acquire(ref, grantee, write, gfn);
  }
  void release(xen::grant_ref_t ref, bool write) { access_->release(ref, write); }
  // The back-end process went away: drop every use it still had.
  uint32_t release_backend_pins() { return access_->release_all(); }

  // The shared region for the back-end daemon.
  int shared_fd() const { return shared_fd_.get(); }
  uint64_t shared_bytes() const { return shared_map_.size(); }
  // The ballooned-out bitmap in the shared region (GrantShared), one bit
  // per guest frame; the domain's Reservation keeps it.
  uint64_t* absent_bitmap() const {
    return reinterpret_cast<uint64_t*>(shared_map_.data() + GrantShared::absent_offset(max_frames_));
  }
  // The written bitmap in the shared region (GrantShared): frames the host
  // wrote, which KVM's dirty log misses. take_written() as GrantAccess's.
  uint64_t* written_bitmap() const {
    return reinterpret_cast<uint64_t*>(shared_map_.data() + GrantShared::written_offset(max_frames_, mem_.pages()));
  }
  template <typename Fn>
  void take_written(Fn&& fn, bool with_held) {
    access_->take_written(std::forward<Fn>(fn), with_held);
  }

 private:
  GrantShared* shared() const { return reinterpret_cast<GrantShared*>(shared_map_.data()); }

  const GuestMemory& mem_;
  const uint32_t max_frames_;
  UniqueFd shared_fd_;
  Mapping shared_map_;
  std::unique_ptr<GrantAccess> access_;
  mutable std::mutex mu_;  // frame placement
};

}  // namespace pv
