// Qcow2Image::grow: a larger virtual size, as `qemu-img resize` does for
// growth. The new clusters are unallocated (zeros, or the backing file's
// bytes where it is long enough, as QEMU has it). The L1 table grows in
// place inside the clusters it already has (with 64 KiB clusters one
// cluster of L1 covers 4 TiB); a table that would have to move is refused
// (-EFBIG). Order: the new L1 entries are zeroed and synced before the
// header names them, so a crash leaves the old size or the new one.
#include <cerrno>
#include <cstring>

#include "disk/qcow2/qcow2_image.h"

namespace pv::disk {

namespace {
constexpr size_t kHeaderSizeOffset = 24;   // virtual size, 8 bytes big-endian
constexpr size_t kHeaderL1SizeOffset = 36; // L1 entries, 4 bytes big-endian

void put_be(uint8_t* p, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; i++) p[i] = uint8_t(v >> (8 * (n - 1 - i)));
}
}  // namespace

int Qcow2Image::grow(uint64_t new_bytes) {
  if (readonly_) return -EROFS;
  std::lock_guard lock(mu_);
  if (new_bytes % 512 || new_bytes < h_.virtual_size) return -EINVAL;
  if (new_bytes == h_.virtual_size) return 0;
  const uint64_t cs = h_.cluster_size, per_l1 = cs * h_.l2_entries();
  const uint64_t need = (new_bytes + per_l1 - 1) / per_l1;
  const uint64_t have_bytes = (uint64_t(h_.l1_size) * 8 + cs - 1) / cs * cs;
  if (need > 0x2000000 || need * 8 > (have_bytes ? have_bytes : cs) || (h_.l1_size == 0 && h_.l1_offset == 0))
    return -EFBIG;
  if (need > h_.l1_size) {
    // The entries past the old table: zero on disk before the header counts them.
    std::vector<uint8_t> zeros((need - h_.l1_size) * 8, 0);
    if (int r = write_meta(h_.l1_offset + uint64_t(h_.l1_size) * 8, zeros.data(), zeros.size())) return r;
    if (int r = sync()) return r;
  }
  uint8_t hdr[16];
  if (int r = read_meta(kHeaderSizeOffset, hdr, sizeof hdr)) return r;
  put_be(hdr, new_bytes, 8);
  if (need > h_.l1_size) put_be(hdr + (kHeaderL1SizeOffset - kHeaderSizeOffset), need, 4);
  if (int r = write_meta(kHeaderSizeOffset, hdr, sizeof hdr)) return r;
  if (int r = sync()) return r;
  if (need > h_.l1_size) {
    l1_.resize(need, 0);
    h_.l1_size = uint32_t(need);
  }
  h_.virtual_size = new_bytes;
  virtual_size_.store(new_bytes, std::memory_order_release);
  return 0;
}

}  // namespace pv::disk
