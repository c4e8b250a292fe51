#include "disk/image_info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "disk/format_probe.h"
#include "disk/host_file.h"
#include "disk/qcow2/qcow2_header.h"
#include "disk/qcow2/qcow2_image.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::disk {

ImageInfo describe_image(const std::string& path) {
  ImageInfo info;
  info.path = path;
  info.format = std::string(probe_format(path));
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) throw UserError("cannot stat " + path + ": " + std::strerror(errno));
  info.allocated_bytes = uint64_t(st.st_blocks) * 512;
  info.file_bytes = uint64_t(st.st_size);
  if (info.format == "raw") {
    HostFile f(path, true);
    info.virtual_size = f.bytes();
    info.file_bytes = f.bytes();
    return info;
  }
  Qcow2Image img(path, true);
  info.virtual_size = img.bytes();
  info.cluster_size = img.cluster_size();
  for (const Qcow2Image* q = &img; q && !q->backing_path().empty(); q = q->backing_qcow2())
    info.backing_chain.push_back({q->backing_path(), q->backing_format(), q->backing_bytes()});
  return info;
}

}  // namespace pv::disk
