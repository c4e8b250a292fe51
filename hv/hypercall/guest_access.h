// Copying hypercall arguments to and from guest-virtual memory. Guest
// pointers are translated page by page through the guest's page tables and
// bounds-checked against RAM; a failed copy means the hypercall returns
// -EFAULT. Nothing here trusts a guest value.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

#include "cpu/page_walk.h"
#include "memory/guest_memory.h"

namespace pv {

class GuestAccess {
 public:
  GuestAccess(const GuestMemory& mem, const PagingState& ps) : mem_(mem), ps_(ps) {}

  bool read(uint64_t gva, void* dst, size_t len) const;
  bool write(uint64_t gva, const void* src, size_t len) const;
  // The guest-physical address `gva` maps to now, or nullopt.
  std::optional<uint64_t> gpa_of(uint64_t gva, bool write) const { return translate_gva(mem_, ps_, gva, write); }

  template <typename T>
  bool get(uint64_t gva, T& out) const {
    return read(gva, &out, sizeof(T));
  }
  template <typename T>
  bool put(uint64_t gva, const T& in) const {
    return write(gva, &in, sizeof(T));
  }

 private:
  template <typename Fn>
  bool walk(uint64_t gva, size_t len, bool write, Fn&& fn) const;

  const GuestMemory& mem_;
  PagingState ps_;
};

}  // namespace pv
