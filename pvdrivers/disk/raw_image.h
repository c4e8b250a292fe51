// The raw back-end of DiskImage (disk_image.h): the virtual disk is the
// host file itself, byte for byte (a raw image file, sparse or not, or a
// block device). Every range maps to one kFile run at the same offset;
// discard punches a hole (files) or issues BLKDISCARD (block devices);
// there is no metadata, so flush() has nothing to do.
//
// The disk's size is the file's in whole 512-byte sectors (a partial last
// sector is not part of the disk).
#pragma once
#include <atomic>
#include <memory>
#include <string>

#include "disk/disk_image.h"

namespace pv::disk {

class RawImage : public DiskImage {
 public:
  // Opens `path` (HostFile's errors: UserError naming the path).
  RawImage(const std::string& path, bool readonly);
  // Over a host file already open (read-only if it was opened so).
  explicit RawImage(std::shared_ptr<HostFile> file);

  const std::string& path() const override { return file_->path(); }
  std::string_view format() const override { return "raw"; }
  uint64_t bytes() const override { return bytes_.load(std::memory_order_acquire); }
  bool readonly() const override { return readonly_; }
  const HostFile& file() const override { return *file_; }
  bool discard_supported() const override { return !readonly_ && file_->discard_supported(); }

  int map_read(uint64_t off, uint64_t len, std::vector<ImageRun>& out) override;
  int read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) override;
  int map_write(uint64_t off, uint64_t len, std::vector<ImageRun>& out) override;
  int discard(uint64_t off, uint64_t len) override;
  int flush() override { return 0; }
  int grow(uint64_t new_bytes) override;

 private:
  bool in_range(uint64_t off, uint64_t len) const {
    const uint64_t b = bytes_.load(std::memory_order_acquire);
    return len <= b && off <= b - len;
  }

  std::shared_ptr<HostFile> file_;
  bool readonly_ = true;
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace pv::disk
