// Whole-buffer pread/pwrite for image metadata (retrying short transfers
// and EINTR).
#pragma once
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace pv::disk::qcow2 {

// Bytes read (fewer only at end of file), or -errno.
inline ssize_t pread_full(int fd, void* buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pread(fd, static_cast<uint8_t*>(buf) + done, len - done, off_t(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) break;
    done += size_t(n);
  }
  return ssize_t(done);
}

// 0 or -errno.
inline int pwrite_full(int fd, const void* buf, size_t len, uint64_t off) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pwrite(fd, static_cast<const uint8_t*>(buf) + done, len - done, off_t(off + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (n == 0) return -EIO;
    done += size_t(n);
  }
  return 0;
}

}  // namespace pv::disk::qcow2
