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
    return true;
  }

 private:
  uint64_t size_;
  UniqueFd fd_;
  Mapping map_;
};

}  // namespace pv
