#include "config/disk_limits.h"

#include <array>
#include <utility>

#include "config/size.h"

namespace pv::config {

namespace {

constexpr uint64_t kMaxIops = 10000000, kMaxBurstMs = 60000;

using Field = uint64_t DiskIoLimits::*;
constexpr std::array<std::pair<std::string_view, Field>, 7> kFields{{
    {"iops", &DiskIoLimits::iops},
    {"iops_rd", &DiskIoLimits::iops_rd},
    {"iops_wr", &DiskIoLimits::iops_wr},
    {"bps", &DiskIoLimits::bps},
    {"bps_rd", &DiskIoLimits::bps_rd},
    {"bps_wr", &DiskIoLimits::bps_wr},
    {"burst_ms", &DiskIoLimits::burst_ms},
}};

bool parse_count(std::string_view v, uint64_t max, uint64_t& out) {
  if (v.empty() || v.size() > 12) return false;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + uint64_t(c - '0');
  }
  if (n > max) return false;
  out = n;
  return true;
}

}  // namespace

bool is_disk_limit_key(std::string_view key) {
  for (const auto& [name, f] : kFields)
    if (name == key) return true;
  return false;
}

std::string set_disk_limit(DiskIoLimits& l, std::string_view key, std::string_view value) {
  const std::string k(key), v(value);
  if (key.starts_with("bps")) {
    const auto b = parse_size_bytes(value, 1);
    if (!b) return k + "=" + v + " is not a rate in bytes per second (a number, with k, m or g for KiB, MiB, GiB)";
    if (!is_disk_limit_key(key)) return "unknown I/O limit '" + k + "' (bps, bps_rd, bps_wr)";
    for (const auto& [name, f] : kFields)
      if (name == key) l.*f = *b;
    return "";
  }
  const uint64_t max = key == "burst_ms" ? kMaxBurstMs : kMaxIops;
  uint64_t n = 0;
  if (!is_disk_limit_key(key)) return "unknown I/O limit '" + k + "' (iops, iops_rd, iops_wr, bps, bps_rd, bps_wr, burst_ms)";
  if (!parse_count(value, max, n)) return k + "=" + v + " is not a whole number from 0 to " + std::to_string(max);
  for (const auto& [name, f] : kFields)
    if (name == key) l.*f = n;
  return "";
}

std::string to_spec_text(const DiskIoLimits& l) {
  std::string s;
  for (const auto& [name, f] : kFields)
    if (l.*f) s += (s.empty() ? "" : ", ") + std::string(name) + "=" + std::to_string(l.*f);
  return s;
}

}  // namespace pv::config
