#include "disk/image_commit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "disk/open_disk_image.h"
#include "pv/error.h"

namespace pv::disk {

namespace {
std::string err(int rc) { return std::strerror(rc < 0 ? -rc : rc); }

int pwrite_all(int fd, const uint8_t* p, uint64_t n, uint64_t at) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, off_t(at));
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (w == 0) return -EIO;
    p += w;
    n -= uint64_t(w);
    at += uint64_t(w);
  }
  return 0;
}
int pread_all(int fd, uint8_t* p, uint64_t n, uint64_t at) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, off_t(at));
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) return -EIO;  // the file ends inside a mapped run: it shrank
    p += r;
    n -= uint64_t(r);
    at += uint64_t(r);
  }
  return 0;
}
}  // namespace

int copy_guest_range(DiskImage& from, DiskImage& to, uint64_t off, uint64_t len, std::vector<uint8_t>& buf) {
  if (len == 0) return 0;
  if (buf.size() < len) buf.resize(len);
  // Mapped under the image's lock, read outside it (as the queues do), so
  // the guest's own requests do not wait for this read. A cluster the
  // guest changes meanwhile is marked and copied again (blk_commit.h).
  std::vector<ImageRun> runs;
  if (int r = from.map_read(off, len, runs)) return r;
  uint64_t at = 0;
  for (const ImageRun& run : runs) {
    uint8_t* dst = buf.data() + at;
    if (run.kind == ImageRun::Kind::kFile) {
      if (int r = pread_all(run.file->buffered_fd(), dst, run.bytes, run.file_offset)) return r;
    } else if (run.kind == ImageRun::Kind::kZero) {
      std::memset(dst, 0, run.bytes);
    } else {
      const iovec iov{dst, run.bytes};
      if (int r = from.read_sync(off + at, run.bytes, &iov, 1)) return r;
    }
    at += run.bytes;
  }
  if (at != len) return -EIO;
  runs.clear();
  if (int r = to.map_write(off, len, runs)) return r;
  at = 0;
  for (const ImageRun& run : runs) {
    if (run.kind != ImageRun::Kind::kFile || !run.file) return -EIO;  // map_write gives file space only
    if (int r = pwrite_all(run.file->buffered_fd(), buf.data() + at, run.bytes, run.file_offset)) return r;
    at += run.bytes;
  }
  return at == len ? 0 : -EIO;
}

int copy_clusters(DiskImage& from, DiskImage& to, const std::vector<uint64_t>& clusters, uint64_t cluster_bytes,
                  uint64_t& done, uint64_t max_run) {
  done = 0;
  std::vector<uint8_t> buf;
  const uint64_t end = from.bytes(), per_run = std::max<uint64_t>(1, max_run / cluster_bytes);
  for (size_t i = 0; i < clusters.size();) {
    size_t j = i + 1;
    while (j < clusters.size() && clusters[j] == clusters[j - 1] + 1 && j - i < per_run) j++;
    const uint64_t off = clusters[i] * cluster_bytes;
    if (off < end) {
      const uint64_t len = std::min<uint64_t>((j - i) * cluster_bytes, end - off);
      if (int r = copy_guest_range(from, to, off, len, buf)) return r;
      done += len;
    }
    i = j;
  }
  return 0;
}

int sync_image(DiskImage& img) {
  if (::fdatasync(img.file().buffered_fd()) != 0) return -errno;
  return img.flush();
}

void check_commit_base(const std::string& base) {
  struct stat st{};
  if (::stat(base.c_str(), &st) != 0) throw UserError("the base " + base + " cannot be found: " + err(errno));
  if ((st.st_mode & 0222) == 0)
    throw UserError("the base " + base + " is read-only (mode 0" + std::to_string((st.st_mode >> 6) & 7) +
                    std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) +
                    ", as a template's base is made: other images may stand on it); nothing was changed. "
                    "If nothing else uses it, make it writable (chmod u+w) and commit again");
  if (::access(base.c_str(), W_OK) != 0)
    throw UserError("the base " + base + " is not writable: " + err(errno) + "; nothing was changed");
}

std::unique_ptr<DiskImage> open_commit_base(const Qcow2Image& overlay) {
  const std::string& base = overlay.backing_path();
  if (base.empty())
    throw UserError(overlay.path() + " has no backing file: there is nothing to commit it into");
  check_commit_base(base);
  const std::string& format = overlay.backing_format();
  auto img = open_disk_image(base, format, false);
  if (img->bytes() < overlay.bytes()) {
    if (const int rc = img->grow(overlay.bytes()); rc != 0)
      throw UserError("the base " + base + " (" + std::to_string(img->bytes()) + " bytes) cannot grow to the overlay's " +
                      std::to_string(overlay.bytes()) + " bytes: " +
                      (rc == -EFBIG ? std::string("its L1 table would have to move (qemu-img resize it first)") : err(rc)));
  }
  return img;
}

CommitStats commit_offline(const std::string& path) {
  Qcow2Image overlay(path, true);
  CommitStats s;
  s.base = overlay.backing_path();
  s.base_format = overlay.backing_format();
  auto base = open_commit_base(overlay);
  std::vector<uint64_t> clusters;
  if (int r = overlay.allocated_clusters(clusters)) throw UserError("cannot read " + path + "'s tables: " + err(r));
  s.clusters = clusters.size();
  if (int r = copy_clusters(overlay, *base, clusters, overlay.cluster_size(), s.bytes))
    throw UserError("committing " + path + " into " + s.base + " failed after " + std::to_string(s.bytes) +
                    " bytes: " + err(r) + " (the overlay is unchanged and still the whole disk; the base holds part of it)");
  if (int r = sync_image(*base)) throw UserError("syncing " + s.base + " failed: " + err(r));
  return s;
}

}  // namespace pv::disk
