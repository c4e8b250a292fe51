#include "disk_sharing.h"

#include <sys/stat.h>

namespace pv::pvd {
namespace {

using config::DiskAccess;

bool writes(DiskAccess a) { return a != DiskAccess::kReadOnly; }

std::string access_name(DiskAccess a) {
  switch (a) {
    case DiskAccess::kReadOnly: return "read-only";
    case DiskAccess::kSharedWrite: return "read-write (w!, shared)";
    case DiskAccess::kReadWrite: break;
  }
  return "read-write";
}

// Why `mine` may not be attached beside `theirs` (the same object), or "".
std::string conflict(const config::DiskSpec& mine, const AttachedDisk& theirs, bool same_domain) {
  if (mine.shared_write()) return "";  // shared on purpose
  if (!writes(mine.access) && !writes(theirs.access)) return "";  // readers only
  const std::string where = same_domain ? "is also disk " + theirs.vdev + " of this domain"
                                        : "is attached to domain '" + theirs.domain + "' (id " +
                                              std::to_string(theirs.domid) + ") as " + theirs.vdev;
  return "disk " + mine.vdev + ": " + mine.target + " " + where + ", " + access_name(theirs.access) + "; " +
         (writes(mine.access) ? "a read-write disk must be attached once, to one domain"
                              : "a read-only attach needs every other attach to be read-only") +
         " (access=w! shares it read-write on purpose)";
}

}  // namespace

std::optional<DiskIdentity> disk_identity(const std::string& target) {
  if (target.empty()) return std::nullopt;
  struct stat st{};
  if (::stat(target.c_str(), &st) != 0) return std::nullopt;
  if (S_ISBLK(st.st_mode)) return DiskIdentity{true, st.st_rdev, 0};
  return DiskIdentity{false, st.st_dev, st.st_ino};
}

std::vector<AttachedDisk> attached_disks(uint32_t domid, const std::string& name, const config::DomainConfig& cfg) {
  std::vector<AttachedDisk> out;
  for (const auto& d : cfg.disks)
    if (auto id = disk_identity(d.target)) out.push_back({*id, domid, name, d.vdev, d.access});
  return out;
}

std::string disk_sharing_conflict(const std::string& name, const config::DomainConfig& cfg,
                                  const std::vector<AttachedDisk>& others) {
  std::vector<AttachedDisk> mine;  // this domain's disks checked so far
  for (const auto& d : cfg.disks) {
    const auto id = disk_identity(d.target);
    if (!id) continue;
    for (const auto& o : mine)
      if (o.id == *id)
        if (auto why = conflict(d, o, true); !why.empty()) return why;
    for (const auto& o : others)
      if (o.id == *id)
        if (auto why = conflict(d, o, false); !why.empty()) return why;
    mine.push_back({*id, 0, name, d.vdev, d.access});
  }
  return "";
}

}  // namespace pv::pvd
