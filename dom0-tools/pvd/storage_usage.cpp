#include "storage_usage.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <utility>

#include "disk/image_info.h"

namespace pv::pvd {

namespace fs = std::filesystem;

namespace {

std::string gib(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  return buf;
}

// Up from the file while the device stays the same.
std::string mount_point_of(const std::string& file, dev_t dev) {
  fs::path p = fs::absolute(fs::path(file)).lexically_normal().parent_path();
  while (p.has_parent_path() && p != p.root_path()) {
    struct stat st{};
    if (::stat(p.parent_path().c_str(), &st) != 0 || st.st_dev != dev) break;
    p = p.parent_path();
  }
  return p.string();
}

}  // namespace

std::optional<ImageUsage> image_usage(const std::string& path, std::string* why) {
  if (path.empty()) {
    if (why) *why = "no image (an empty drive)";
    return std::nullopt;
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    if (why) *why = S_ISBLK(st.st_mode) ? "a block device" : "not a readable image file";
    return std::nullopt;
  }
  try {
    const disk::ImageInfo i = disk::describe_image(path);
    return ImageUsage{i.virtual_size, i.allocated_bytes};
  } catch (const std::exception& e) {
    if (why) *why = e.what();
    return std::nullopt;
  }
}

std::vector<StorageUse> storage_use(const std::vector<ImageRef>& images) {
  std::vector<StorageUse> out;
  std::set<std::pair<dev_t, ino_t>> seen;
  for (const auto& img : images) {
    struct stat st{};
    if (img.path.empty() || ::stat(img.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (!seen.insert({st.st_dev, st.st_ino}).second) continue;
    const auto u = image_usage(img.path);
    if (!u) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const StorageUse& s) { return s.dev == st.st_dev; });
    if (it == out.end()) {
      StorageUse s;
      s.dev = st.st_dev;
      s.mount = mount_point_of(img.path, st.st_dev);
      struct statvfs vfs{};
      if (::statvfs(img.path.c_str(), &vfs) == 0) s.free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
      out.push_back(std::move(s));
      it = out.end() - 1;
    }
    StorageUse& s = *it;
    s.images++;
    s.virtual_bytes += u->virtual_bytes;
    s.allocated_bytes += u->allocated_bytes;
    if (img.writable && u->virtual_bytes > u->allocated_bytes) s.growth_bytes += u->virtual_bytes - u->allocated_bytes;
  }
  return out;
}

std::string describe(const StorageUse& s) {
  std::string out = "file system " + s.mount + " (" + std::to_string(s.images) + (s.images == 1 ? " image" : " images") +
                    "): " + gib(s.virtual_bytes) + " virtual, " + gib(s.allocated_bytes) + " allocated; they may grow by " +
                    gib(s.growth_bytes) + " and " + gib(s.free_bytes) + " is free";
  if (s.overcommitted()) out += ": overcommitted by " + gib(s.growth_bytes - s.free_bytes);
  return out;
}

}  // namespace pv::pvd
