// Thin provisioning made visible (docs/disks.md, "Thin provisioning"): what
// each disk image holds on the host against its virtual size, and, per host
// file system, whether the images there could still grow to their virtual
// sizes (a qcow2 or sparse raw image takes host space only as the guest
// writes; the sum of what they may still take can exceed what is free,
// which is overcommit: allowed, as with any thin provisioning, but warned
// about, since a guest write that then finds the file system full fails
// with ENOSPC).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pv::pvd {

struct ImageUsage {
  uint64_t virtual_bytes = 0;
  uint64_t allocated_bytes = 0;  // host blocks the file uses (st_blocks)
};
// The image's virtual size and its allocation (the image alone: a backing
// file's blocks are shared); nullopt for what is not a readable image file
// (an empty CD-ROM, a block device), with the reason in `why`.
std::optional<ImageUsage> image_usage(const std::string& path, std::string* why = nullptr);

struct StorageUse {
  dev_t dev = 0;      // the file system (st_dev of its images)
  std::string mount;  // its mount point
  uint32_t images = 0;
  uint64_t virtual_bytes = 0;
  uint64_t allocated_bytes = 0;
  uint64_t growth_bytes = 0;  // what the writable images may still take: virtual - allocated
  uint64_t free_bytes = 0;    // statvfs f_bavail: what an unprivileged writer may still use
  bool overcommitted() const { return growth_bytes > free_bytes; }
};
struct ImageRef {
  std::string path;
  bool writable = true;  // read-only images do not grow
};
// The images grouped by the file system they are on (block devices and
// unreadable images left out), in the order first seen; each image counted
// once however many disks name it.
std::vector<StorageUse> storage_use(const std::vector<ImageRef>& images);

// "file system /var/lib (3 images): 24.0 GiB virtual, 1.2 GiB allocated;
// they may grow by 22.8 GiB and 10.0 GiB is free: overcommitted by 12.8 GiB"
std::string describe(const StorageUse& s);

}  // namespace pv::pvd
