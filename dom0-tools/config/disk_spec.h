// One entry of `disk = [ ... ]`: xl's DISKSPEC (docs/man/xl-disk-configuration,
// tools/libs/util/libxlu_disk_l.l), in the positional form
//     /path/to/image,raw,xvda,rw
// the key=value form
//     format=raw, vdev=xvda, access=rw, target=/path/to/image
// and xl's deprecated forms (raw:/path,xvda,w  phy:/dev/vg/lv,xvda,w  ,hdc:cdrom,r).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/disk_limits.h"

namespace pv::config {

// kSharedWrite is xl's `w!`: read-write, and shared with other domains on
// purpose (pvd then skips its one-writer check, as Xen's block script does).
enum class DiskAccess { kReadWrite, kReadOnly, kSharedWrite };
enum class DiskDevType { kDisk, kCdrom };

struct DiskSpec {
  std::string target;          // image file or block device; empty only for an empty cdrom
  std::string format = "raw";  // xl's set: raw qcow qcow2 vhd qed empty; pv-backd decides what it serves
  std::string vdev;            // xvda, xvdb2, hdc, sda1, d0p1, or a xenstore number
  DiskAccess access = DiskAccess::kReadWrite;  // a cdrom is always read-only (as xl)
  DiskDevType devtype = DiskDevType::kDisk;
  bool discard = true;          // xl default: advertise discard
  std::string backend;          // backend domain name; empty = dom0
  std::string backendtype;      // phy, tap, qdisk, standalone; empty = automatic
  std::string script;           // block script (script=, or an iscsi:/nbd:/drbd: prefix)
  bool direct_io_safe = false;
  bool trusted = true;          // trusted / untrusted flags
  bool force_raw = false;       // force-raw (ours, not xl's): serve a raw image even if it starts with a qcow2 header
  DiskIoLimits limits;          // iops=, bps_rd=, ... (ours, not xl's; config/disk_limits.h)

  bool readonly() const { return access == DiskAccess::kReadOnly; }
  bool shared_write() const { return access == DiskAccess::kSharedWrite; }
  bool operator==(const DiskSpec&) const = default;
};

struct DiskParseResult {
  std::optional<DiskSpec> disk;       // set when the spec is valid
  std::string error;                  // otherwise, what is wrong
  std::vector<std::string> warnings;  // accepted but worth telling
};

DiskParseResult parse_disk_spec(std::string_view spec);

// Canonical key=value form; parse_disk_spec(to_spec(d)).disk == d.
std::string to_spec(const DiskSpec& d);

// The xenstore device number of a vdev (xen-vbd-interface(7), as libxl's
// libxl__device_disk_dev_number): xvda -> 51712, d1p2 -> 51730, hdc -> 5632.
// nullopt if the vdev is not valid.
std::optional<std::uint32_t> vdev_to_devid(std::string_view vdev);

}  // namespace pv::config
