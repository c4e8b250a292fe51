// Guest RAM: one memfd mapped into pv-hv, registered with KVM as slot 0 at
// guest-physical address 0. Other processes (pv-backd, xenstored) can map
// the same memfd; every access through this class is bounds-checked.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>

#include "pv/mapping.h"
#include "pv/unique_fd.h"

namespace pv {

class GuestMemory {
 public:
  // Creates `bytes` of guest RAM (a multiple of the page size).
  explicit GuestMemory(uint64_t bytes);

  uint64_t size() const { return size_; }
  uint64_t pages() const { return size_ >> 12; }
  int fd() const { return fd_.get(); }
  uint8_t* base() const { return map_.data(); }

  // True when [gpa, gpa + len) lies inside RAM (no overflow).
  bool contains(uint64_t gpa, uint64_t len) const { return gpa <= size_ && len <= size_ - gpa; }

  // Host pointer for [gpa, gpa + len), or nullptr when out of range.
  uint8_t* host(uint64_t gpa, uint64_t len) const { return contains(gpa, len) ? base() + gpa : nullptr; }

  // The page at guest frame number `gfn`, or nullptr.
  uint8_t* page(uint64_t gfn) const { return gfn < pages() ? base() + (gfn << 12) : nullptr; }

  template <typename T>
  T* object(uint64_t gpa) const {
    return reinterpret_cast<T*>(host(gpa, sizeof(T)));
  }

  bool read(uint64_t gpa, void* dst, uint64_t len) const {
    const uint8_t* p = host(gpa, len);
    if (!p) return false;
    std::memcpy(dst, p, len);
    return true;
  }
  bool write(uint64_t gpa, const void* src, uint64_t len) const {
    uint8_t* p = host(gpa, len);
    if (!p) return false;
    std::memcpy(p, src, len);
    note_written(p, len);
    return true;
  }

  // Writes the host makes into guest RAM (hypercall results, the runstate
  // area), which KVM's dirty log does not see: marked in `bitmap` (one bit
  // per frame, the GrantShared written bitmap that pv-backd marks too) for
  // a live migration's pre-copy. Set once, before any vCPU runs.
  void set_written_bitmap(uint64_t* bitmap) { written_ = bitmap; }
  void note_written(const uint8_t* p, uint64_t len) const {
    if (!written_ || !len || p < base() || p >= base() + size_) return;
    const uint64_t first = static_cast<uint64_t>(p - base()) >> 12;
    const uint64_t last = (static_cast<uint64_t>(p - base()) + len - 1) >> 12;
    for (uint64_t g = first; g <= last && g < pages(); g++)
      __atomic_fetch_or(&written_[g / 64], uint64_t{1} << (g % 64), __ATOMIC_RELEASE);
  }

 private:
  uint64_t* written_ = nullptr;
  uint64_t size_;
  UniqueFd fd_;
  Mapping map_;
};

}  // namespace pv
