#include "config/size.h"

#include <cctype>
#include <charconv>

namespace pv::config {

std::optional<uint64_t> parse_size_bytes(std::string_view text, uint64_t bare_unit) {
  constexpr uint64_t kMax = uint64_t{1} << 60;
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p == text.data()) return std::nullopt;
  uint64_t unit = bare_unit;
  if (p != end) {
    if (end - p != 1) return std::nullopt;
    switch (std::tolower(static_cast<unsigned char>(*p))) {
      case 'b': unit = 1; break;
      case 'k': unit = kKiB; break;
      case 'm': unit = kMiB; break;
      case 'g': unit = kGiB; break;
      case 't': unit = kTiB; break;
      default: return std::nullopt;
    }
  }
  if (unit == 0 || v > kMax / unit) return std::nullopt;
  return v * unit;
}

}  // namespace pv::config
