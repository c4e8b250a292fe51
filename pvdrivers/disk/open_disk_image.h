// The one place that turns a disk's format name into its DiskImage
// back-end (raw_image.h, qcow2/qcow2_image.h): pv-backd's blkback opens
// every disk through it.
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include "disk/disk_image.h"

namespace pv::disk {

// Opens `path` as a `format` image ("raw" or "qcow2"). A raw image whose
// first bytes are qcow2's magic is refused (format_probe.h: the file is a
// qcow2 image configured as raw, or the guest wrote a qcow2 header into
// its disk) unless `force_raw`. Throws UserError naming the path and what
// to do (an unknown format, a file that cannot be opened, the probe).
std::unique_ptr<DiskImage> open_disk_image(const std::string& path, std::string_view format, bool readonly,
                                           bool force_raw = false);

}  // namespace pv::disk
