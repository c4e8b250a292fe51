// What a virtual disk's bytes are, whatever the image format: one trait
// with a back-end per format (raw_image.h, qcow2/qcow2_image.h), as
// cloud-hypervisor has one per disk type.
//
// An image does not do the guest's I/O. It maps a range of the virtual
// disk onto runs of host files; blkback's queue thread then moves the
// bytes itself, on its io_uring, straight between those files and the
// guest's granted pages (zero copy, O_DIRECT where the alignment allows).
// What cannot be done that way (a compressed cluster) is a kCopy run, read
// through read_sync().
//
// Writes: map_write() makes the range writable before the data is sent:
// it allocates what is not allocated yet and copies the rest of each new
// cluster (from the backing file, or zeros) before it returns, so once it
// returns every run is plain file space the queue may write at any time.
// The metadata that points at new clusters reaches the host file (its page
// cache) once the writes that needed it are complete, before the guest is
// told (publish_written), so a pv-backd killed at any point loses no write
// it acknowledged; it reaches stable storage in flush(). On-disk metadata
// never points at clusters whose reference counts are not durable, nor at
// ones whose copied-on-write contents are not (a host crash at any point
// leaves a consistent image, at worst with leaked clusters, as QEMU's).
//
// Thread safety: an image is shared by every queue of a device, each on
// its own thread; every member may be called from any of them at once.
// The files a run names live as long as the image.
#pragma once
#include <sys/uio.h>

#include <cerrno>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "disk/host_file.h"

namespace pv::disk {

struct ImageRun {
  enum class Kind : uint8_t {
    kFile,  // `bytes` at `file_offset` in `file`
    kZero,  // reads as zeros (unallocated without a backing file, a zero cluster, past a shorter backing file)
    kCopy,  // the image produces these bytes itself: read_sync() (compressed clusters)
  };
  Kind kind = Kind::kZero;
  uint64_t bytes = 0;
  const HostFile* file = nullptr;  // kFile
  uint64_t file_offset = 0;        // kFile
};

class DiskImage {
 public:
  virtual ~DiskImage() = default;

  virtual const std::string& path() const = 0;
  virtual std::string_view format() const = 0;  // "raw", "qcow2"
  virtual uint64_t bytes() const = 0;           // virtual size
  uint64_t sectors() const { return bytes() >> 9; }
  virtual bool readonly() const = 0;
  // The host file holding the image itself (sector sizes, O_DIRECT, the
  // fd a flush syncs).
  virtual const HostFile& file() const = 0;
  virtual bool discard_supported() const = 0;

  // The runs covering [off, off + len) in order (appended to `out`; their
  // bytes add up to len). 0, or -errno: -EIO when metadata cannot be read,
  // -EUCLEAN when it is corrupt (the message went to the image's log).
  virtual int map_read(uint64_t off, uint64_t len, std::vector<ImageRun>& out) = 0;
  // Copies the bytes of [off, off + len) into iov (kCopy runs). 0 or -errno.
  virtual int read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) = 0;
  // Makes [off, off + len) writable in place: only kFile runs. 0, or
  // -errno (-ENOSPC when no cluster can be allocated, -EROFS read-only).
  virtual int map_write(uint64_t off, uint64_t len, std::vector<ImageRun>& out) = 0;
  // Forgets [off, off + len): later reads give zeros (or the backing file
  // where the format keeps that), and the host space is given back where
  // the format can. Synchronous. 0 or -errno.
  virtual int discard(uint64_t off, uint64_t len) = 0;
  // The writes to these byte ranges are complete and about to be
  // acknowledged: the metadata naming the clusters map_write allocated for
  // them goes to the host file (not synced; after a sync of the data first
  // where the new clusters hold copied contents or were used before), so
  // that it outlives this process. 0 or -errno (the metadata then stays in
  // memory for flush()). Raw: nothing to do.
  virtual int publish_written(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
    (void)ranges;
    return 0;
  }
  // Called when the guest flushes, after the data of every write it saw
  // acknowledged was synced (fdatasync of file()): writes the metadata
  // changed since and syncs it. 0 or -errno. Raw: nothing to do.
  virtual int flush() = 0;
  // Makes the virtual disk `new_bytes` long (a whole number of sectors, not
  // less than bytes()); the new part reads as zeros (or the backing file's
  // bytes where the format keeps that). Durable when it returns, and safe
  // while other threads map: requests past the old end are the caller's to
  // hold back until it returned. 0 or -errno (-EOPNOTSUPP: this image
  // cannot grow, e.g. a block device; -EFBIG: the format's tables would
  // have to move). Read-only images: -EROFS.
  virtual int grow(uint64_t new_bytes) { return new_bytes == bytes() ? 0 : -EOPNOTSUPP; }
  // Told by whoever wrote through runs map_write() gave (blkback's queue)
  // once those writes completed, failed or not: an image that follows the
  // guest's writes (a live commit's, blkback/blk_commit.h) marks the range.
  // Any thread. Default: nothing.
  virtual void written(uint64_t /*off*/, uint64_t /*len*/) {}
};

}  // namespace pv::disk
