// One writer per disk, as Xen's block scripts enforce (check_sharing in
// tools/hotplug/Linux/block-common.sh): an image file or block device is
// attached read-write to at most one domain at a time and once in it; it
// may be attached read-only any number of times, but not read-only while
// some domain has it read-write (nor the reverse). `access=w!` is the one
// way around it: that attach skips the check (the user shares the disk on
// purpose), while it still counts as a writer against later attaches, as
// Xen's script canonicalises 'w!' to 'w'.
//
// Disks are the same when they are the same object, however they are
// spelled: a file by (st_dev, st_ino) after following symbolic links, a
// block device by its device number (st_rdev), so another node or a
// symlink to it is no way around the check either.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/domain_config.h"

namespace pv::pvd {

// Which object a disk's target is.
struct DiskIdentity {
  bool block = false;
  dev_t dev = 0;  // st_rdev of a block device, else st_dev
  ino_t ino = 0;  // 0 for a block device
  bool operator==(const DiskIdentity&) const = default;
};

// nullopt for a disk without a target (an empty CD-ROM drive) or one that
// cannot be stat()ed (checked, with a message, elsewhere).
std::optional<DiskIdentity> disk_identity(const std::string& target);

// A disk some domain has attached.
struct AttachedDisk {
  DiskIdentity id;
  uint32_t domid = 0;
  std::string domain;  // its name
  std::string vdev;
  config::DiskAccess access = config::DiskAccess::kReadWrite;
};

// The disks of `cfg` (domain `domid`, named `name`) that have a target.
std::vector<AttachedDisk> attached_disks(uint32_t domid, const std::string& name, const config::DomainConfig& cfg);

// Why domain `name`'s disks may not be attached beside `others` (every
// disk other domains have now), or "" when they may. Its own disks are
// checked against each other too. The message names the disk, the other
// domain and its vdev.
std::string disk_sharing_conflict(const std::string& name, const config::DomainConfig& cfg,
                                  const std::vector<AttachedDisk>& others);

}  // namespace pv::pvd
