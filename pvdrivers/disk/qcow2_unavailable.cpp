// Stands in for the qcow2 back-end (qcow2/) until it is part of the build:
// a disk configured as qcow2 then fails to open with a message that says
// so. Dropped when qcow2/qcow2_image.cpp is built.
#include "disk/qcow2/qcow2_image.h"

#include "pv/error.h"

namespace pv::disk {

std::unique_ptr<DiskImage> open_qcow2_image(const std::string& path, bool) {
  throw UserError(path + ": qcow2 support is not built");
}

}  // namespace pv::disk
