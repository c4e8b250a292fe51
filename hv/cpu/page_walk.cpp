#include "cpu/page_walk.h"

namespace pv {
namespace {
constexpr uint64_t kCr0Pg = 1ull << 31, kCr0Wp = 1ull << 16;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr uint64_t kEferLma = 1ull << 10;
constexpr uint64_t kPresent = 1, kWritable = 2, kLarge = 1ull << 7;
constexpr uint64_t kAddrMask = 0x000ffffffffff000ull;
}  // namespace

std::optional<uint64_t> translate_gva(const GuestMemory& mem, const PagingState& ps, uint64_t gva, bool write) {
  if (!(ps.cr0 & kCr0Pg)) return gva & 0xffffffffull;
  // Only 4-level long-mode paging is supported for hypercall arguments.
  if (!(ps.efer & kEferLma) || !(ps.cr4 & kCr4Pae) || (ps.cr4 & kCr4La57)) return std::nullopt;
  // Non-canonical addresses fault.
  const int64_t sgva = static_cast<int64_t>(gva);
  if ((sgva << 16 >> 16) != sgva) return std::nullopt;

  const bool check_write = write && (ps.cr0 & kCr0Wp);
  uint64_t table = ps.cr3 & kAddrMask;
  for (int level = 3; level >= 0; level--) {
    const unsigned index = (gva >> (12 + 9 * level)) & 0x1ff;
    uint64_t entry;
    if (!mem.read(table + index * 8, &entry, sizeof(entry))) return std::nullopt;
    if (!(entry & kPresent)) return std::nullopt;
    if (check_write && !(entry & kWritable)) return std::nullopt;
    if (level > 0 && level < 3 && (entry & kLarge)) {
      const uint64_t page_bits = 12 + 9 * level;  // 1 GiB at level 2, 2 MiB at level 1
      const uint64_t page_mask = (1ull << page_bits) - 1;
      return ((entry & kAddrMask) & ~page_mask) | (gva & page_mask);
    }
    table = entry & kAddrMask;
  }
  return table | (gva & 0xfff);
}

}  // namespace pv
