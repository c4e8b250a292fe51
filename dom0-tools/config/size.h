// Sizes as people type them on a command line: a number with an optional
// b, k, m, g or t suffix (binary units, either case), as xl's mem-set and
// qemu-img take them. What a bare number means is the caller's
// (`bare_unit`): MiB for memory, as xl; bytes for disk images, as qemu-img.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace pv::config {

inline constexpr uint64_t kKiB = 1024, kMiB = kKiB << 10, kGiB = kMiB << 10, kTiB = kGiB << 10;

// The size in bytes, or nullopt when `text` is not one (empty, a sign, a
// fraction, an unknown suffix, or more than 2^60 bytes).
std::optional<uint64_t> parse_size_bytes(std::string_view text, uint64_t bare_unit);

// In MiB (a bare number is MiB), rounded up.
inline std::optional<uint64_t> parse_size_mib(std::string_view text) {
  const auto b = parse_size_bytes(text, kMiB);
  if (!b) return std::nullopt;
  return (*b + kMiB - 1) / kMiB;
}

}  // namespace pv::config
