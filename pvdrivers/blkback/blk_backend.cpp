#include "blkback/blk_backend.h"

#include <time.h>

#include <cerrno>
#include <cstring>

#include <unistd.h>

#include <chrono>

#include "disk/open_disk_image.h"
#include "disk/qcow2/qcow2_create.h"
#include "pv/error.h"

namespace pv::blkback {
namespace B = xen::blkif;

BlkBackend::BlkBackend(backd::BackendContext& ctx, backd::DeviceId id)
    : XenbusDevice(ctx, std::move(id)), io_errors_(this->id().name(), "I/O errors") {}

BlkBackend::~BlkBackend() {
  commit_.reset();  // its copy stops; the overlay stays the disk
  disconnect();
  stats_writer_.reset();
  io_errors_.flush();
}

void BlkBackend::open_image() {
  if (image_ || params_.empty()) return;
  try {
    image_ = disk::open_disk_image(params_, format_, readonly_, force_raw_);
    image_error_.clear();
    const disk::HostFile& f = image_->file();
    log("disk image " + params_ + " (" + std::string(image_->format()) + "): " + std::to_string(image_->bytes()) +
        " bytes, " + (f.block_device() ? "block device" : "file") + (readonly_ ? ", read-only" : "") +
        (f.direct() ? ", O_DIRECT" : ", buffered") +
        (f.direct() ? " (align " + std::to_string(f.dio_offset_align()) + ")" : ""));
  } catch (const std::exception& e) {
    if (image_error_ != e.what()) log(e.what(), pv::log::Level::kError);
    image_error_ = e.what();
  }
}

void BlkBackend::publish_features() {
  params_ = read_backend("params").value_or("");
  readonly_ = read_backend("mode").value_or("r").find('w') == std::string::npos;
  cdrom_ = read_backend("device-type").value_or("disk") == "cdrom";
  if (cdrom_) readonly_ = true;
  format_ = read_backend("format").value_or("raw");
  force_raw_ = read_backend("force-raw").value_or("0") == "1";
  try {
    discard_enable_ = backend_uint("discard-enable", 1) != 0;
  } catch (const UserError&) {
    discard_enable_ = false;
  }
  open_image();

  limits_ = Limits{};
  limits_.disk_sectors = image_ ? image_->sectors() : 0;
  limits_.readonly = readonly_;
  limits_.discard = discard_enable_ && !readonly_ && image_ && image_->discard_supported();
  limits_.discard_secure = false;
  limits_.max_indirect_segments = kMaxIndirectSegments;

  uint32_t info = 0;
  if (readonly_) info |= B::VDISK_READONLY;
  if (cdrom_) info |= B::VDISK_CDROM | B::VDISK_REMOVABLE;
  write_backend("feature-flush-cache", "1");
  write_backend("feature-persistent", "1");
  write_backend("feature-max-indirect-segments", std::to_string(kMaxIndirectSegments));
  write_backend("max-ring-page-order", std::to_string(B::kMaxRingPageOrder));
  write_backend("multi-queue-max-queues", std::to_string(kMaxQueues));
  if (limits_.discard) {
    write_backend("feature-discard", "1");
    write_backend("discard-granularity", std::to_string(image_->file().discard_granularity()));
    write_backend("discard-alignment", "0");
    write_backend("discard-secure", "0");
  } else {
    write_backend("feature-discard", "0");
  }
  write_backend("info", std::to_string(info));
  write_disk_keys();

  // Counters only while the device's directory still has its frontend key
  // (the domain is not going away).
  if (!stats_writer_)
    stats_writer_ = std::make_unique<backd::StatsWriter>(ctx().xs, id().backend_path, "frontend", [this] {
      io_errors_.tick();  // the periodic summary of suppressed I/O errors, on the writer's thread
      return stats_.snapshot();
    });
}

// The disk's geometry; written again at each connection (as Linux blkback
// does), so an image that could only be opened later is described right.
void BlkBackend::write_disk_keys() {
  write_backend("sectors", std::to_string(limits_.disk_sectors));
  write_backend("sector-size", "512");
  write_backend("physical-sector-size", std::to_string(image_ ? image_->file().physical_sector_size() : 512));
}

void BlkBackend::connect() {
  if (!params_.empty() && !image_) {
    open_image();
    if (!image_) throw UserError(image_error_);
    limits_.disk_sectors = image_->sectors();
    write_disk_keys();
  }
  Abi abi;
  const std::string protocol = read_frontend("protocol").value_or("");
  if (!parse_abi(protocol, abi)) throw UserError("front-end protocol '" + protocol + "' is not x86_64-abi or x86_32-abi");
  const bool persistent = frontend_uint("feature-persistent", 0) == 1;
  const uint64_t nq = frontend_uint("multi-queue-num-queues", 1);
  if (nq == 0 || nq > kMaxQueues)
    throw UserError("multi-queue-num-queues " + std::to_string(nq) + " is not 1.." + std::to_string(kMaxQueues));

  link_ = domain_link();  // LinkUnavailable: retried later
  for (uint32_t q = 0; q < nq; q++)
    connect_queue(*link_, q, nq == 1 ? "" : "queue-" + std::to_string(q) + "/", abi, persistent);
  for (auto& q : queues_) q.io->start();
  log(std::string("serving ") + std::to_string(nq) + " queue(s) of " + std::to_string(queues_[0].io->ring_size()) +
      " requests, " + abi_name(abi) + (persistent ? ", persistent grants" : ""));
}

void BlkBackend::connect_queue(DomainLink& link, uint32_t index, const std::string& dir, Abi abi, bool persistent) {
  // Linux blkback: ring-page-order lives in the front-end's top directory,
  // ring-ref(N) and event-channel in the queue's.
  std::vector<xen::grant_ref_t> refs;
  if (read_frontend("ring-page-order")) {
    const uint64_t order = frontend_uint("ring-page-order");
    if (order > B::kMaxRingPageOrder)
      throw UserError("ring-page-order " + std::to_string(order) + " is above max-ring-page-order " +
                      std::to_string(B::kMaxRingPageOrder));
    for (uint32_t i = 0; i < (1u << order); i++) {
      const uint64_t ref = frontend_uint(dir + "ring-ref" + std::to_string(i));
      if (ref > 0xffffffffu) throw UserError(dir + "ring-ref" + std::to_string(i) + " is not a grant reference");
      refs.push_back(xen::grant_ref_t(ref));
    }
  } else {
    const uint64_t ref = frontend_uint(dir + "ring-ref");
    if (ref > 0xffffffffu) throw UserError(dir + "ring-ref is not a grant reference");
    refs.push_back(xen::grant_ref_t(ref));
  }
  const uint64_t port = frontend_uint(dir + "event-channel");
  if (port == 0 || port > 0xffffffffu) throw UserError(dir + "event-channel " + std::to_string(port) + " is not a port");

  Queue q;
  q.ring = link.map_ring(refs);  // throws UserError naming the bad grant
  q.evtchn = link.bind(uint32_t(port));
  QueueConfig c;
  c.index = index;
  c.thread_name = "vbd" + std::to_string(id().domid) + "." + std::to_string(id().devid) + "q" + std::to_string(index);
  c.abi = abi;
  c.ring = q.ring.data();
  c.ring_bytes = q.ring.bytes();
  c.kick_fd = q.evtchn->kick_fd();
  BoundEvtchn* ev = q.evtchn.get();
  c.notify = [ev] { ev->notify(); };
  c.grants = &link.grants();
  c.image = served();
  c.limits = limits_;
  c.throttle = &throttle_;
  c.persistent = persistent;
  c.stats = &stats_;
  c.io_errors = &io_errors_;
  std::weak_ptr<XenbusDevice> self = weak_from_this();
  c.fatal = [self](const std::string& why) {
    if (auto d = self.lock()) d->fatal(why);
  };
  q.io = std::make_unique<BlkQueue>(std::move(c));
  queues_.push_back(std::move(q));
}

namespace {
uint64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
}  // namespace

void BlkBackend::backend_changed() {
  read_limits();
  resize_if_asked();
  snapshot_if_asked();
  commit_if_asked();
}

void BlkBackend::snapshot_if_asked() {
  const std::string path = read_backend("snapshot-path").value_or("");
  if (path.empty()) return;
  // Taken: the same path may be asked again (after a commit removed it).
  write_backend("snapshot-path", "");
  auto refuse = [&](const std::string& why) {
    log("snapshot " + path + " refused: " + why, pv::log::Level::kError);
    write_backend("snapshot-error", why);
  };
  if (!image_) return refuse("the disk has no image open");
  if (readonly_) return refuse("the disk is read-only");
  if (commit_) return refuse("a commit of the disk is under way");
  if (path[0] != '/') return refuse("the overlay's path is not absolute");
  if (::access(path.c_str(), F_OK) == 0) return refuse(path + " exists");
  const std::string base = params_, base_format = format_;
  const uint64_t bytes = image_->bytes();
  // Between requests: what is in flight completes, the rest waits on the ring.
  pause_queues();
  struct Resume {
    BlkBackend& b;
    ~Resume() { b.resume_queues(); }
  } resume{*this};
  const auto start = std::chrono::steady_clock::now();
  // Everything acknowledged is in the base, data and then metadata; then
  // the base is closed (a qcow2 gives back its reserved clusters) and never
  // written again.
  int rc = ::fdatasync(image_->file().buffered_fd()) == 0 ? 0 : -errno;
  if (rc == 0) rc = image_->flush();
  if (rc != 0) return refuse(std::string("flushing the image failed: ") + std::strerror(-rc));
  for (auto& q : queues_) q.io->set_image(nullptr);
  image_.reset();
  std::shared_ptr<disk::DiskImage> next;
  std::string why;
  try {
    disk::create_qcow2(path, bytes, base, base_format);
    next = disk::open_disk_image(path, "qcow2", false, false);
  } catch (const std::exception& e) {
    why = e.what();
    ::unlink(path.c_str());
    try {
      next = disk::open_disk_image(base, base_format, false, force_raw_);
    } catch (const std::exception& e2) {
      why += std::string("; and the image cannot be opened again: ") + e2.what();
    }
  }
  image_ = next;
  for (auto& q : queues_) q.io->set_image(image_);
  if (!why.empty()) return refuse(why);
  params_ = path;
  format_ = "qcow2";
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
  log("snapshot: now serving " + path + " over " + base + " (queues paused " + std::to_string(us) + " us)");
  write_backend("snapshot-done", path);
}

void BlkBackend::resize_if_asked() {
  const auto asked = read_backend("resize-bytes");
  if (!asked || asked->empty()) return;
  uint64_t bytes = 0;
  try {
    bytes = backend_uint("resize-bytes");
  } catch (const UserError& e) {
    if (resize_seen_ != ~uint64_t(0)) write_backend("resize-error", e.what());
    resize_seen_ = ~uint64_t(0);
    return;
  }
  if (bytes == resize_seen_) return;
  resize_seen_ = bytes;
  auto refuse = [&](const std::string& why) {
    log("resize to " + std::to_string(bytes) + " bytes refused: " + why, pv::log::Level::kError);
    write_backend("resize-error", why);
  };
  if (!image_) return refuse("the disk has no image open");
  if (commit_) return refuse("a commit of the disk is under way");
  if (bytes % 512) return refuse("the size is not a whole number of 512-byte sectors");
  if (bytes < image_->bytes()) return refuse("shrinking is not supported");
  if (const int rc = image_->grow(bytes); rc != 0) {
    return refuse(rc == -EFBIG        ? std::string("the qcow2 image's L1 table would have to move (grow it offline with qemu-img resize)")
                  : rc == -EOPNOTSUPP ? std::string("this image cannot grow here (a block device grows with its own tools)")
                                      : std::string(std::strerror(-rc)));
  }
  limits_.disk_sectors = image_->sectors();
  for (auto& q : queues_) q.io->set_disk_sectors(limits_.disk_sectors);
  write_disk_keys();
  log("resized to " + std::to_string(bytes) + " bytes (" + std::to_string(limits_.disk_sectors) + " sectors)");
  if (connected()) announce_state();
  write_backend("resize-done", std::to_string(bytes));
}

void BlkBackend::read_limits() {
  IoLimits l;
  try {
    static const char* const kDir[3] = {"", "-rd", "-wr"};
    for (unsigned d = 0; d < 3; d++) {
      l.iops[d] = backend_uint(std::string("qos-iops") + kDir[d], 0);
      l.bps[d] = backend_uint(std::string("qos-bps") + kDir[d], 0);
    }
    l.burst_ms = backend_uint("qos-burst-ms", IoLimits::kDefaultBurstMs);
    if (l.burst_ms > 60000) throw UserError("qos-burst-ms " + std::to_string(l.burst_ms) + " is above 60000");
  } catch (const UserError& e) {
    if (limits_error_ != e.what()) log(std::string("I/O limits unchanged: ") + e.what(), pv::log::Level::kError);
    limits_error_ = e.what();
    return;
  }
  limits_error_.clear();
  if (l == throttle_.limits()) return;
  throttle_.set(l, monotonic_ns());
  log("I/O limits: " + l.describe());
}

void BlkBackend::disconnect() {
  if (queues_.empty() && !link_) return;
  for (auto& q : queues_)
    if (q.io) q.io->stop();  // in-flight I/O completes first
  queues_.clear();           // then channels unbind, rings unmap
  link_.reset();
  io_errors_.flush();
  std::string line;
  for (const auto& [k, v] : stats_.snapshot())
    if (v) line += " " + k + "=" + std::to_string(v);
  log("disconnected;" + (line.empty() ? std::string(" no I/O") : line));
  if (stats_writer_) stats_writer_->poke();  // publish the final counters soon
}

}  // namespace pv::blkback
