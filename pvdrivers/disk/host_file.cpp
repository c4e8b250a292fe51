#include "disk/host_file.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "pv/error.h"

namespace pv::disk {
namespace {

bool pow2_between(uint64_t v, uint64_t lo, uint64_t hi) { return v >= lo && v <= hi && (v & (v - 1)) == 0; }

// A number from a sysfs queue attribute of block device `dev`, or 0.
uint64_t queue_attr(dev_t dev, const std::string& name) {
  const std::string base = "/sys/dev/block/" + std::to_string(major(dev)) + ":" + std::to_string(minor(dev));
  for (const char* dir : {"/queue/", "/../queue/"}) {  // a disk, or a partition of one
    std::ifstream f(base + dir + name);
    uint64_t v = 0;
    if (f >> v) return v;
  }
  return 0;
}

}  // namespace

HostFile::HostFile(const std::string& path, bool readonly) : path_(path), readonly_(readonly) {
  const int flags = (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  fd_.reset(::open(path.c_str(), flags));
  if (!fd_) throw UserError("cannot open " + path + (readonly ? " (read-only)" : "") + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd_.get(), &st) != 0) throw UserError("cannot stat " + path + ": " + std::strerror(errno));
  if (S_ISBLK(st.st_mode)) {
    block_device_ = true;
    probe_block_device();
  } else if (S_ISREG(st.st_mode)) {
    probe_file();
  } else {
    throw UserError(path + " is neither a regular file nor a block device");
  }
  if (bytes_ < 512) throw UserError(path + " is smaller than one 512-byte sector");
  direct_fd_.reset(::open(path.c_str(), flags | O_DIRECT));
  if (direct_fd_) {
    direct_ = true;
    probe_direct_alignment();
  }
}

void HostFile::probe_block_device() {
  uint64_t size = 0;
  if (::ioctl(fd_.get(), BLKGETSIZE64, &size) != 0) throw UserError("BLKGETSIZE64 on " + path_ + ": " + std::strerror(errno));
  bytes_ = size;
  int lss = 0;
  unsigned int pss = 0;
  if (::ioctl(fd_.get(), BLKSSZGET, &lss) == 0 && pow2_between(uint64_t(lss), 512, 65536)) logical_ = uint32_t(lss);
  if (::ioctl(fd_.get(), BLKPBSZGET, &pss) == 0 && pow2_between(pss, logical_, 65536)) physical_ = pss;
  else physical_ = logical_;
  struct stat st{};
  ::fstat(fd_.get(), &st);
  discard_ = !readonly_ && queue_attr(st.st_rdev, "discard_max_bytes") > 0;
  const uint64_t gran = queue_attr(st.st_rdev, "discard_granularity");
  discard_granularity_ = pow2_between(gran, 512, 1u << 30) ? uint32_t(gran) : physical_;
  dio_mem_align_ = dio_offset_align_ = logical_;
}

void HostFile::probe_file() {
  struct stat st{};
  ::fstat(fd_.get(), &st);
  bytes_ = uint64_t(st.st_size);
  logical_ = 512;
  // The file system's block: writes smaller than it cost a read-modify-write.
  physical_ = pow2_between(uint64_t(st.st_blksize), 512, 4096) ? uint32_t(st.st_blksize) : 512;
  discard_ = !readonly_;
  discard_granularity_ = pow2_between(uint64_t(st.st_blksize), 512, 1u << 20) ? uint32_t(st.st_blksize) : 4096;
}

void HostFile::probe_direct_alignment() {
  struct statx sx{};
  if (::statx(direct_fd_.get(), "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
    if (sx.stx_dio_offset_align == 0) {  // the file system says: no direct I/O
      direct_ = false;
      direct_fd_.reset();
      return;
    }
    dio_mem_align_ = sx.stx_dio_mem_align ? sx.stx_dio_mem_align : 1;
    dio_offset_align_ = sx.stx_dio_offset_align;
  } else if (!block_device_) {
    dio_mem_align_ = dio_offset_align_ = 512;
  }
  if (!pow2_between(dio_offset_align_, 1, 4096) || !pow2_between(dio_mem_align_, 1, 4096)) {
    direct_ = false;  // stricter than any guest page could meet: buffered only
    direct_fd_.reset();
    return;
  }
  // Check with one aligned read that direct I/O really works here.
  void* buf = nullptr;
  if (::posix_memalign(&buf, 4096, 4096) != 0) return;
  const ssize_t n = ::pread(direct_fd_.get(), buf, dio_offset_align_ > 512 ? dio_offset_align_ : 512, 0);
  const int err = errno;
  std::free(buf);
  if (n < 0 && err == EINVAL) {
    direct_ = false;
    direct_fd_.reset();
  }
}

int HostFile::punch_hole_mode() { return FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE; }

int HostFile::discard_sync(uint64_t off, uint64_t len) const {
  if (!discard_) return -EOPNOTSUPP;
  if (block_device_) {
    // BLKDISCARD wants whole logical blocks: discard only those inside.
    const uint64_t a = logical_;
    const uint64_t start = (off + a - 1) / a * a, end = (off + len) / a * a;
    if (end <= start) return 0;
    uint64_t range[2] = {start, end - start};
    return ::ioctl(fd_.get(), BLKDISCARD, range) == 0 ? 0 : -errno;
  }
  return ::fallocate(fd_.get(), punch_hole_mode(), off_t(off), off_t(len)) == 0 ? 0 : -errno;
}

}  // namespace pv::disk
