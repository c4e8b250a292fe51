// blkback: a live commit of a vbd's qcow2 overlay into its backing file
// (`pvctl disk commit DOMAIN VDEV`, as QEMU's active block-commit with
// --pivot; docs/disks.md "Commit").
//
// While the guest runs, its queues serve the overlay through a
// WriteTracker: every guest cluster a write or discard touches is marked
// (when the write was mapped and again when it completed, so a write still
// in flight while its cluster was copied is copied again). A thread of the
// commit's own copies the overlay's clusters into the base (which is open
// a second time, for writing): first every cluster the overlay maps, then
// those marked since, pass after pass, until a pass finds at most
// kFinalClusters (or kMaxPasses went by, for a guest that writes faster
// than the copy). The copy may be held to a rate (bytes/s, as
// virsh blockcommit --bandwidth), which leaves the host's disk to the
// guests and lets the guest write more during it. It then calls `ready`; the device pauses its queues
// between requests and calls finish(), which copies what is still marked
// and syncs the base, whose image the queues then serve.
//
// Safe with the overlay's own read-only view of the base: that view only
// reads clusters the overlay does not map, and the copy only writes
// clusters the overlay maps (or mapped and then discarded, which are
// copied again from the overlay's view in finish()), so neither sees the
// other's changes in a way the guest can tell.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "disk/disk_image.h"
#include "disk/qcow2/qcow2_image.h"

namespace pv::blkback {

// The overlay as the queues see it during a commit: everything forwarded,
// the guest clusters written or discarded marked.
class WriteTracker : public disk::DiskImage {
 public:
  explicit WriteTracker(std::shared_ptr<disk::Qcow2Image> overlay);

  const std::string& path() const override { return o_->path(); }
  std::string_view format() const override { return o_->format(); }
  uint64_t bytes() const override { return o_->bytes(); }
  bool readonly() const override { return o_->readonly(); }
  const disk::HostFile& file() const override { return o_->file(); }
  bool discard_supported() const override { return o_->discard_supported(); }
  int map_read(uint64_t off, uint64_t len, std::vector<disk::ImageRun>& out) override { return o_->map_read(off, len, out); }
  int read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) override {
    return o_->read_sync(off, len, iov, iovcnt);
  }
  int map_write(uint64_t off, uint64_t len, std::vector<disk::ImageRun>& out) override;
  int discard(uint64_t off, uint64_t len) override;
  int flush() override { return o_->flush(); }
  int grow(uint64_t) override { return -EBUSY; }  // not while committing
  void written(uint64_t off, uint64_t len) override { mark(off, len); }

  void mark(uint64_t off, uint64_t len);
  void mark_clusters(const std::vector<uint64_t>& clusters);
  // The marked clusters, in order, and the marks cleared.
  std::vector<uint64_t> take();

 private:
  std::shared_ptr<disk::Qcow2Image> o_;
  const unsigned bits_;  // log2 of the overlay's cluster size
  std::mutex mu_;
  std::vector<uint64_t> marks_;  // one bit per guest cluster
};

class BlkCommit {
 public:
  static constexpr uint64_t kFinalClusters = 64;  // at most this many copied with the queues paused (once converged)
  static constexpr unsigned kMaxPasses = 16;

  // Starts the copy thread. `ready` is called once, from it, when the copy
  // converged or failed; `log` gets progress lines (any thread).
  BlkCommit(std::shared_ptr<disk::Qcow2Image> overlay, std::shared_ptr<disk::DiskImage> base,
            std::function<void()> ready, std::function<void(const std::string&)> log, uint64_t bytes_per_s = 0);
  ~BlkCommit();  // stops the copy (at the next run of clusters) and joins it
  BlkCommit(const BlkCommit&) = delete;
  BlkCommit& operator=(const BlkCommit&) = delete;

  // What the queues serve until the pivot.
  std::shared_ptr<disk::DiskImage> tracked() const { return tracker_; }
  const std::shared_ptr<disk::DiskImage>& base() const { return base_; }
  // After `ready`, with every queue paused (nothing in flight): copies the
  // clusters still marked and syncs the base. "" or why not (the overlay
  // is then still the disk, whole).
  std::string finish();
  uint64_t copied_bytes() const { return copied_.load(); }
  unsigned passes() const { return passes_; }
  // Clusters copied again because the guest wrote them during the copy
  // (passes after the first, and finish()).
  uint64_t recopied_clusters() const { return recopied_; }
  uint64_t final_bytes() const { return final_bytes_; }

 private:
  void run();
  void hold_to_rate(std::chrono::steady_clock::time_point start);

  std::shared_ptr<disk::Qcow2Image> overlay_;
  std::shared_ptr<disk::DiskImage> base_;
  std::shared_ptr<WriteTracker> tracker_;
  std::function<void()> ready_;
  std::function<void(const std::string&)> log_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> copied_{0};
  const uint64_t rate_;         // bytes/s, 0: as fast as it goes
  unsigned passes_ = 0;         // written by the thread before ready_
  uint64_t recopied_ = 0;
  std::string error_;           // likewise
  uint64_t final_bytes_ = 0;
  std::thread thread_;
};

}  // namespace pv::blkback
