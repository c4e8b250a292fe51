#include "disk/open_disk_image.h"

#include "disk/format_probe.h"
#include "disk/qcow2/qcow2_image.h"
#include "disk/raw_image.h"
#include "pv/error.h"

namespace pv::disk {

std::unique_ptr<DiskImage> open_disk_image(const std::string& path, std::string_view format, bool readonly,
                                           bool force_raw) {
  if (format == "qcow2") return open_qcow2_image(path, readonly);
  if (format != "raw")
    throw UserError(path + ": image format '" + std::string(format) + "' is not supported (raw or qcow2)");
  auto file = std::make_shared<HostFile>(path, readonly);
  if (!force_raw) {
    std::string_view probed;
    try {
      probed = probe_format(file->buffered_fd());
    } catch (const SystemError& e) {
      throw UserError(path + ": " + e.what());
    }
    if (probed == "qcow2")
      throw UserError(path + " starts with a qcow2 header but is configured as raw: refusing to serve it as raw "
                      "(use format=qcow2 if it is a qcow2 image, or force-raw if its raw bytes are the disk)");
  }
  return std::make_unique<RawImage>(std::move(file));
}

}  // namespace pv::disk
