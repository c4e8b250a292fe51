// Merging a qcow2 overlay into its backing file (a commit, as `qemu-img
// commit` and QEMU's block-commit do): every guest cluster the overlay maps
// itself (Qcow2Image::allocated_clusters) is read through the overlay and
// written into the base, which then holds what the overlay showed. The
// pieces are shared by the offline commit here (`pvctl disk commit PATH`)
// and pv-backd's live one (blkback/blk_commit.h). docs/disks.md "Commit".
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "disk/disk_image.h"
#include "disk/qcow2/qcow2_image.h"

namespace pv::disk {

// Guest bytes [off, off + len) of `from` (read through its whole chain)
// written into the same range of `to`. Synchronous; `buf` is scratch.
// 0 or -errno.
int copy_guest_range(DiskImage& from, DiskImage& to, uint64_t off, uint64_t len, std::vector<uint8_t>& buf);

// The clusters (indices of `cluster_bytes`) copied in runs of consecutive
// ones, each at most `max_run` bytes, clipped to `from`'s size. 0 or -errno
// (the first failure; `done` says how many bytes were copied before it).
int copy_clusters(DiskImage& from, DiskImage& to, const std::vector<uint64_t>& clusters, uint64_t cluster_bytes,
                  uint64_t& done, uint64_t max_run = 1 << 20);

// The image's data (fdatasync) and then its metadata (flush) on stable
// storage. 0 or -errno.
int sync_image(DiskImage& img);

// Throws UserError when `base` must not be written by a commit: not
// writable by us, or made read-only on purpose (no write bit in its mode,
// as a template's bases are: other images may stand on them).
void check_commit_base(const std::string& base);

// The overlay's base opened for writing (its backing file, in its format),
// at least as large as the overlay (grown if shorter, as qemu-img commit
// does). Throws UserError saying why not (no backing file, a base that must
// not be written, one that cannot grow).
std::unique_ptr<DiskImage> open_commit_base(const Qcow2Image& overlay);

struct CommitStats {
  uint64_t clusters = 0;  // overlay clusters merged
  uint64_t bytes = 0;     // guest bytes copied
  std::string base, base_format;
};

// `qemu-img commit` of an image no one uses: the qcow2 overlay at `path`
// merged into its backing file, which is then synced. The overlay is left
// as it is (over the base it still reads the same). Throws UserError.
CommitStats commit_offline(const std::string& path);

}  // namespace pv::disk
