// blkback: one virtual block device (vbd) of one domain, the back-end half
// of Xen's blkif as Linux xen-blkfront negotiates it.
//
// Back-end keys read (written by pvd, libxl-style): params (the image file
// or block device; empty for an empty CD-ROM drive), mode (r / w),
// device-type (disk / cdrom), discard-enable, format (raw / qcow2; absent:
// raw, from a pvd that did not write it), force-raw (1: serve a raw image
// even though it starts with a qcow2 header; disk/open_disk_image.h).
// Published before InitWait: sectors, sector-size (512),
// physical-sector-size, info (VDISK_READONLY / VDISK_CDROM|REMOVABLE),
// feature-flush-cache, feature-discard (+ discard-granularity,
// discard-alignment, discard-secure) when discard is enabled on a writable
// store that can discard, feature-persistent, feature-max-indirect-segments,
// max-ring-page-order, multi-queue-max-queues.
// I/O limits (io_throttle.h), read whenever the directory changes, so the
// toolstack changes them on a running device: qos-iops, qos-iops-rd,
// qos-iops-wr (requests/s), qos-bps, qos-bps-rd, qos-bps-wr (bytes/s),
// qos-burst-ms; absent or 0: no limit.
// Online resize: the toolstack writes resize-bytes; the image grows
// (DiskImage::grow), the queues accept the new sectors, `sectors` is
// written and then `state` (Connected) again, as Linux's blkback does, and
// the answer goes to resize-done (the size) or resize-error (why not).
// External snapshot: the toolstack writes snapshot-path (a file that does
// not exist; emptied when taken); the queues pause between requests
// (in-flight ones complete), the image is flushed and closed, a qcow2
// overlay is created on top of it (backing: the image as it is), the
// queues resume on the overlay, and the answer goes to snapshot-done (the
// path) or snapshot-error.
// Live commit: the toolstack writes commit-speed (bytes/s, 0: no limit),
// commit-remove, maybe commit-top, then commit-base (the overlay's
// backing file, as it names it; emptied when taken); the overlay's
// clusters are copied into the base while the guest runs (blk_commit.h),
// then the queues pause between requests for the rest, the base is synced
// and served read-write, the back-end's params/format name it, and the
// answer goes to commit-done (the base) or commit-error (the overlay still
// served, nothing lost); with commit-remove = 1 the merged overlay is
// removed before the answer. With commit-top naming an overlay lower in
// the disk's chain (snapshot-delete), that overlay is merged into its base
// and the image above it renamed to stand on the base, the disk's image
// reopened between requests.
// Front-end keys read at connect(): protocol, feature-persistent,
// multi-queue-num-queues, ring-page-order, and per queue (the front-end's
// directory, or queue-N/ with several queues) ring-ref / ring-refN and
// event-channel. Each is checked; a bad one fails the connection with a
// message in the back-end's "error" key.
//
// Counters (blk_stats.h) appear under statistics/ in the back-end
// directory, refreshed at most every 500 ms while they change. Failures of
// the backing store (ENOSPC, EIO...) are also logged, rate-limited
// (common/rate_limited_log.h), with the device's name.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/rate_limited_log.h"
#include "common/stats_writer.h"
#include "common/xenbus_device.h"
#include "disk/disk_image.h"
#include "blkback/blk_commit.h"
#include "blkback/blk_queue.h"
#include "blkback/blk_stats.h"

namespace pv::blkback {

inline constexpr uint32_t kMaxQueues = 4;  // multi-queue-max-queues

class BlkBackend : public backd::XenbusDevice {
 public:
  BlkBackend(backd::BackendContext& ctx, backd::DeviceId id);
  ~BlkBackend() override;

 protected:
  void publish_features() override;
  void connect() override;
  void disconnect() override;
  void backend_changed() override;

 private:
  struct Queue {  // members go in reverse: the I/O thread before its channel and ring
    RingMapping ring;
    std::unique_ptr<BoundEvtchn> evtchn;
    std::unique_ptr<BlkQueue> io;
  };
  void open_image();
  void write_disk_keys();
  void read_limits();
  void resize_if_asked();
  void snapshot_if_asked();
  void commit_if_asked();
  void commit_ready();  // the copy converged: the pivot (blk_commit.h)
  void remove_merged(const std::string& path);
  // What the queues serve: the image, or the commit's tracker over it.
  std::shared_ptr<disk::DiskImage> served() const { return commit_ && commit_above_.empty() ? commit_->tracked() : image_; }
  void pause_queues();
  void resume_queues();
  void connect_queue(DomainLink& link, uint32_t index, const std::string& dir, Abi abi, bool persistent);

  std::string params_, format_ = "raw";
  bool readonly_ = true, cdrom_ = false, discard_enable_ = true, force_raw_ = false;
  std::shared_ptr<disk::DiskImage> image_;
  std::string image_error_, limits_error_;
  uint64_t resize_seen_ = 0;  // the last resize-bytes acted on
  std::unique_ptr<BlkCommit> commit_;  // a commit under way
  std::string commit_above_;           // a lower commit's: the image standing on the merged overlay
  bool commit_remove_ = false;         // commit-remove: the merged overlay is removed once done
  std::chrono::steady_clock::time_point commit_started_;
  Limits limits_;

  IoThrottle throttle_;  // the queues' I/O limits (qos-* keys); outlives them
  BlkStats stats_;
  backd::RateLimitedLog io_errors_;  // shared by the queues; outlives them
  std::shared_ptr<DomainLink> link_;
  std::vector<Queue> queues_;
  std::unique_ptr<backd::StatsWriter> stats_writer_;  // from publish_features() on
};

}  // namespace pv::blkback
