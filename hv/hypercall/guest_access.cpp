#include "hypercall/guest_access.h"

#include <algorithm>
#include <cstring>

namespace pv {

template <typename Fn>
bool GuestAccess::walk(uint64_t gva, size_t len, bool write, Fn&& fn) const {
  if (gva + len < gva) return false;  // wraps
  size_t done = 0;
  while (done < len) {
    const uint64_t va = gva + done;
    const size_t chunk = std::min<uint64_t>(len - done, 0x1000 - (va & 0xfff));
    auto gpa = translate_gva(mem_, ps_, va, write);
    if (!gpa) return false;
    uint8_t* host = mem_.host(*gpa, chunk);
    if (!host) return false;
    fn(host, done, chunk);
    done += chunk;
  }
  return true;
}

bool GuestAccess::read(uint64_t gva, void* dst, size_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  return walk(gva, len, false, [&](uint8_t* host, size_t off, size_t n) { std::memcpy(out + off, host, n); });
}

bool GuestAccess::write(uint64_t gva, const void* src, size_t len) const {
  auto* in = static_cast<const uint8_t*>(src);
  return walk(gva, len, true, [&](uint8_t* host, size_t off, size_t n) {
    std::memcpy(host, in + off, n);
    mem_.note_written(host, n);
  });
}

}  // namespace pv
