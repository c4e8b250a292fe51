#include "disk/raw_image.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <stdexcept>

namespace pv::disk {

RawImage::RawImage(const std::string& path, bool readonly)
    : RawImage(std::make_shared<HostFile>(path, readonly)) {}

RawImage::RawImage(std::shared_ptr<HostFile> file) : file_(std::move(file)) {
  if (!file_) throw std::logic_error("RawImage: no host file");
  readonly_ = file_->readonly();
  bytes_ = file_->sectors() << 9;
}

int RawImage::map_read(uint64_t off, uint64_t len, std::vector<ImageRun>& out) {
  if (!in_range(off, len)) return -EINVAL;
  if (len) out.push_back({ImageRun::Kind::kFile, len, file_.get(), off});
  return 0;
}

int RawImage::map_write(uint64_t off, uint64_t len, std::vector<ImageRun>& out) {
  if (readonly_) return -EROFS;
  return map_read(off, len, out);
}

// Not used by blkback for raw (every run is kFile); here for callers that
// want the bytes without an io_uring (pvctl's disk verbs, tests).
int RawImage::read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) {
  if (!in_range(off, len) || iovcnt < 0) return -EINVAL;
  uint64_t room = 0;
  for (int i = 0; i < iovcnt; i++) room += iov[i].iov_len;
  if (room < len) return -EINVAL;
  std::vector<iovec> v(iov, iov + iovcnt);
  size_t next = 0;
  while (len) {
    // Only the first `len` bytes of the iovecs are filled.
    std::vector<iovec> cut;
    uint64_t want = 0;
    for (size_t i = next; i < v.size() && want < len && cut.size() < IOV_MAX; i++) {
      const uint64_t take = v[i].iov_len < len - want ? v[i].iov_len : len - want;
      cut.push_back({v[i].iov_base, size_t(take)});
      want += take;
    }
    const ssize_t n = ::preadv(file_->buffered_fd(), cut.data(), int(cut.size()), off_t(off));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -errno;
    }
    if (n == 0) return -EIO;  // the file shrank under the disk
    uint64_t done = uint64_t(n);
    off += done;
    len -= done;
    while (done && next < v.size()) {
      const uint64_t step = done < v[next].iov_len ? done : v[next].iov_len;
      v[next].iov_base = static_cast<uint8_t*>(v[next].iov_base) + step;
      v[next].iov_len -= step;
      done -= step;
      if (v[next].iov_len == 0) next++;
    }
  }
  return 0;
}

int RawImage::discard(uint64_t off, uint64_t len) {
  if (readonly_) return -EROFS;
  if (!in_range(off, len)) return -EINVAL;
  if (!len) return 0;
  return file_->discard_sync(off, len);
}

int RawImage::grow(uint64_t new_bytes) {
  if (readonly_) return -EROFS;
  if (new_bytes % 512 || new_bytes < bytes()) return -EINVAL;
  if (file_->block_device()) return new_bytes == bytes() ? 0 : -EOPNOTSUPP;  // grow the device itself (lvextend)
  // Sparse: the new part is a hole.
  if (::ftruncate(file_->buffered_fd(), off_t(new_bytes)) != 0) return -errno;
  if (::fsync(file_->buffered_fd()) != 0) return -errno;
  bytes_.store(new_bytes, std::memory_order_release);
  return 0;
}

}  // namespace pv::disk
