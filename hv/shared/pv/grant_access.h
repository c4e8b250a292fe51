// Using a guest's grants from the host, with Xen's rules. One
// implementation for pv-hv (GrantTable) and the back-end daemon.
//
// acquire() maps a grant reference to the guest frame it grants, after
// checking that the entry permits access, names `grantee` as the domain
// allowed, allows the access wanted (no write through a GTF_readonly
// grant) and names a populated frame inside guest RAM (not one the guest
// ballooned out). It sets GTF_reading (and
// GTF_writing) with compare-and-swap, as Xen does, so the granting guest
// sees the grant in use and cannot revoke it until release(). Uses are
// counted in the shared pin words (grant_shared.h); nothing read from
// guest memory is trusted twice.
#pragma once
#include <cstdint>
#include <mutex>

#include <xen/grant_table.h>

#include "pv/grant_shared.h"

namespace pv {

class GrantAccess {
 public:
  // `ram`/`ram_bytes`: the guest's RAM as mapped in this process;
  // `shared`: the GrantShared region (bytes_for(max_frames, ram pages) long).
  GrantAccess(uint8_t* ram, uint64_t ram_bytes, GrantShared* shared);

  // GNTST_okay and the granted frame, or a GNTST_* error.
  int16_t acquire(xen::grant_ref_t ref, xen::domid_t grantee, bool write, uint64_t& gfn);
  void release(xen::grant_ref_t ref, bool write);
  // Clears the in-use flags of every pinned grant and zeroes the pins
  // (the back-end that held them is gone). Returns how many were pinned.
  uint32_t release_all();

  // Host address of guest frame `gfn`, or nullptr outside RAM.
  uint8_t* page(uint64_t gfn) const { return gfn < ram_pages_ ? ram_ + (gfn << 12) : nullptr; }
  uint64_t ram_pages() const { return ram_pages_; }
  // False for a frame outside RAM or ballooned out (GrantShared's bitmap).
  bool populated(uint64_t gfn) const {
    return gfn < ram_pages_ && !(__atomic_load_n(&absent_[gfn / 64], __ATOMIC_ACQUIRE) & (uint64_t{1} << (gfn % 64)));
  }
  uint32_t max_refs() const { return shared_->max_frames * xen::gnttab::kEntriesPerFrameV1; }

  // The back-end wrote (or may have written) the frame at host address
  // `page`: its bit in the written bitmap is set (GrantShared).
  void mark_written(const uint8_t* page);
  // pv-hv, for a live migration: calls `fn(gfn)` for every frame marked
  // written since the last call, clearing the marks as it goes, and then
  // for every frame a grant now held writable names (the back-end may
  // still write it: a ring, a persistently mapped buffer).
  template <typename Fn>
  void take_written(Fn&& fn, bool with_held = true);

 private:
  xen::gnttab::grant_entry_v1* entry(xen::grant_ref_t ref) const;  // nullptr: no such ref
  uint32_t* pin(xen::grant_ref_t ref) const;
  uint64_t* written_word(uint64_t gfn) const { return written_ + gfn / 64; }

  uint8_t* ram_;
  uint64_t ram_pages_;
  GrantShared* shared_;
  uint32_t* pins_;
  const uint64_t* absent_;
  uint64_t* written_;
  std::mutex mu_;  // orders flag changes with pin counts in this process
};

template <typename Fn>
void GrantAccess::take_written(Fn&& fn, bool with_held) {
  for (uint64_t w = 0; w < (ram_pages_ + 63) / 64; w++) {
    uint64_t bits = __atomic_exchange_n(&written_[w], 0, __ATOMIC_ACQ_REL);
    while (bits) {
      const uint64_t gfn = w * 64 + static_cast<uint64_t>(__builtin_ctzll(bits));
      bits &= bits - 1;
      if (gfn < ram_pages_) fn(gfn);
    }
  }
  if (!with_held) return;
  const uint32_t refs = max_refs();
  for (uint32_t ref = 0; ref < refs; ref++) {
    if ((__atomic_load_n(&pins_[ref], __ATOMIC_ACQUIRE) >> 16) == 0) continue;
    if (const auto* e = entry(ref)) {
      const uint64_t gfn = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
      if (gfn < ram_pages_) fn(gfn);
    }
  }
}

}  // namespace pv
