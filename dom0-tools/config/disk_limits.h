// Per-disk I/O limits in a disk spec (ours, after QEMU's throttling
// options): iops, iops_rd, iops_wr (requests per second), bps, bps_rd,
// bps_wr (bytes per second; k/m/g suffixes, binary), burst_ms (how much
// of the rate an idle disk may save up; default 100). Unset or 0: no
// limit. pv-backd enforces them with token buckets (docs/disks.md).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace pv::config {

struct DiskIoLimits {
  uint64_t iops = 0, iops_rd = 0, iops_wr = 0;
  uint64_t bps = 0, bps_rd = 0, bps_wr = 0;
  uint64_t burst_ms = 0;  // 0: pv-backd's default

  bool any() const { return iops || iops_rd || iops_wr || bps || bps_rd || bps_wr; }
  bool operator==(const DiskIoLimits&) const = default;
};

bool is_disk_limit_key(std::string_view key);
// Sets `key` (one of the above) from `value`; "" or what is wrong.
std::string set_disk_limit(DiskIoLimits& l, std::string_view key, std::string_view value);
// "iops_rd=100, bps_wr=1048576" (the set ones, in the order above), "" if none.
std::string to_spec_text(const DiskIoLimits& l);

}  // namespace pv::config
