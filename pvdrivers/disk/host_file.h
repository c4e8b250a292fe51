// A host file a virtual disk lives in: an image file (sparse or
// not) or a block device, opened once per device and shared by its queues.
//
// Two descriptors on the same file: `direct_fd()` with O_DIRECT where the
// file system supports it (I/O goes straight between the disk and the
// guest's granted pages), and `buffered_fd()` without it, for requests
// whose sectors or memory do not meet the O_DIRECT alignment (the kernel's
// page cache is then the bounce buffer, and does any read-modify-write of
// partial blocks itself). The kernel keeps the two coherent (a direct
// write invalidates cached pages, a direct read writes dirty ones back
// first) and one fdatasync on either makes both durable.
#pragma once
#include <cstdint>
#include <string>

#include "pv/unique_fd.h"

namespace pv::disk {

class HostFile {
 public:
  // Throws UserError naming the path when it cannot be opened, is neither
  // a regular file nor a block device, or is smaller than one sector.
  HostFile(const std::string& path, bool readonly);

  const std::string& path() const { return path_; }
  bool readonly() const { return readonly_; }
  bool block_device() const { return block_device_; }
  uint64_t bytes() const { return bytes_; }
  uint64_t sectors() const { return bytes_ >> 9; }  // 512-byte units
  uint32_t logical_sector_size() const { return logical_; }
  uint32_t physical_sector_size() const { return physical_; }

  // O_DIRECT in use (else direct_fd() == buffered_fd()).
  bool direct() const { return direct_; }
  int direct_fd() const { return direct_ ? direct_fd_.get() : fd_.get(); }
  int buffered_fd() const { return fd_.get(); }
  // O_DIRECT alignment of file offsets/lengths (memory: see direct_ok()).
  uint32_t dio_offset_align() const { return dio_offset_align_; }
  // True when a transfer of `len` bytes at file offset `off` from/to
  // memory `addr` may use direct_fd().
  bool direct_ok(uint64_t off, uint64_t len, const void* addr) const {
    return direct_ && off % dio_offset_align_ == 0 && len % dio_offset_align_ == 0 &&
           reinterpret_cast<uintptr_t>(addr) % dio_mem_align_ == 0;
  }

  // Discard: punching holes in files (the image stays the same size and
  // gets sparser), BLKDISCARD on block devices that support it.
  bool discard_supported() const { return discard_; }
  uint32_t discard_granularity() const { return discard_granularity_; }
  // Synchronous discard of [off, off + len) (block devices; files go
  // through io_uring's fallocate). 0 or -errno.
  int discard_sync(uint64_t off, uint64_t len) const;
  // fallocate() mode for a discard of a file.
  static int punch_hole_mode();

 private:
  void probe_block_device();
  void probe_file();
  void probe_direct_alignment();

  std::string path_;
  bool readonly_;
  bool block_device_ = false;
  bool direct_ = false;
  bool discard_ = false;
  uint64_t bytes_ = 0;
  uint32_t logical_ = 512, physical_ = 512;
  uint32_t dio_mem_align_ = 512, dio_offset_align_ = 512;
  uint32_t discard_granularity_ = 4096;
  UniqueFd fd_, direct_fd_;
};

}  // namespace pv::disk
