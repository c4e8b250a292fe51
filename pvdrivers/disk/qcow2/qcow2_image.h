// The qcow2 back-end of DiskImage (disk_image.h).
#pragma once
#include <memory>
#include <string>

#include "disk/disk_image.h"

namespace pv::disk {

// Opens the qcow2 image at `path` (and its backing chain). Throws
// UserError naming the path and what is wrong with it.
std::unique_ptr<DiskImage> open_qcow2_image(const std::string& path, bool readonly);

}  // namespace pv::disk
