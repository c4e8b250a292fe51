#include "blkback/blk_commit.h"

#include <cstring>

#include "disk/image_commit.h"

namespace pv::blkback {

namespace {
unsigned log2_of(uint64_t v) {
  unsigned b = 0;
  while ((uint64_t(1) << b) < v) b++;
  return b;
}
std::string err(int rc) { return std::strerror(rc < 0 ? -rc : rc); }
}  // namespace

WriteTracker::WriteTracker(std::shared_ptr<disk::Qcow2Image> overlay)
    : o_(std::move(overlay)), bits_(log2_of(o_->cluster_size())) {
  const uint64_t clusters = (o_->bytes() + o_->cluster_size() - 1) >> bits_;
  marks_.assign((clusters + 63) / 64, 0);
}

int WriteTracker::map_write(uint64_t off, uint64_t len, std::vector<disk::ImageRun>& out) {
  mark(off, len);
  return o_->map_write(off, len, out);
}

int WriteTracker::discard(uint64_t off, uint64_t len) {
  const int rc = o_->discard(off, len);
  mark(off, len);
  return rc;
}

void WriteTracker::mark(uint64_t off, uint64_t len) {
  if (len == 0) return;
  const uint64_t first = off >> bits_, last = (off + len - 1) >> bits_;
  std::lock_guard lock(mu_);
  for (uint64_t c = first; c <= last && c / 64 < marks_.size(); c++) marks_[c / 64] |= uint64_t(1) << (c % 64);
}

void WriteTracker::mark_clusters(const std::vector<uint64_t>& clusters) {
  std::lock_guard lock(mu_);
  for (uint64_t c : clusters)
    if (c / 64 < marks_.size()) marks_[c / 64] |= uint64_t(1) << (c % 64);
}

std::vector<uint64_t> WriteTracker::take() {
  std::vector<uint64_t> out;
  std::lock_guard lock(mu_);
  for (size_t w = 0; w < marks_.size(); w++) {
    for (uint64_t m = marks_[w]; m; m &= m - 1) out.push_back(w * 64 + uint64_t(__builtin_ctzll(m)));
    marks_[w] = 0;
  }
  return out;
}

BlkCommit::BlkCommit(std::shared_ptr<disk::Qcow2Image> overlay, std::shared_ptr<disk::DiskImage> base,
                     std::function<void()> ready, std::function<void(const std::string&)> log, uint64_t bytes_per_s)
    : overlay_(std::move(overlay)),
      base_(std::move(base)),
      tracker_(std::make_shared<WriteTracker>(overlay_)),
      ready_(std::move(ready)),
      log_(std::move(log)),
      rate_(bytes_per_s) {
  thread_ = std::thread([this] { run(); });
}

BlkCommit::~BlkCommit() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

// Sleeps (waking for stop_) until the bytes copied so far fit the rate.
void BlkCommit::hold_to_rate(std::chrono::steady_clock::time_point start) {
  if (rate_ == 0) return;
  const auto due = start + std::chrono::microseconds(copied_.load() * 1000000 / rate_);
  while (!stop_ && std::chrono::steady_clock::now() < due)
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(due - std::chrono::steady_clock::now(),
                                                                             std::chrono::milliseconds(50)));
}

void BlkCommit::run() {
  const auto start = std::chrono::steady_clock::now();
  // The queues serve the tracker from before this thread starts, so every
  // cluster is either mapped by the overlay now or marked when written.
  std::vector<uint64_t> all;
  if (int r = overlay_->allocated_clusters(all)) {
    error_ = "cannot read the overlay's tables: " + err(r);
    return ready_();
  }
  tracker_->mark_clusters(all);
  const uint64_t cs = overlay_->cluster_size();
  constexpr size_t kChunk = 64;  // clusters between looks at stop_ and the rate
  while (!stop_ && passes_ < kMaxPasses) {
    std::vector<uint64_t> todo = tracker_->take();
    passes_++;
    if (passes_ > 1) recopied_ += todo.size();
    for (size_t i = 0; i < todo.size() && !stop_; i += kChunk) {
      const std::vector<uint64_t> part(todo.begin() + long(i), todo.begin() + long(std::min(todo.size(), i + kChunk)));
      uint64_t done = 0;
      const int r = disk::copy_clusters(*overlay_, *base_, part, cs, done);
      copied_ += done;
      if (r != 0) {
        error_ = "copying into " + base_->path() + " failed: " + err(r);
        return ready_();
      }
      hold_to_rate(start);
    }
    if (passes_ == 1 || todo.size() > kFinalClusters)
      log_("commit: pass " + std::to_string(passes_) + " copied " + std::to_string(todo.size()) + " clusters");
    if (todo.size() <= kFinalClusters) break;
  }
  if (stop_) return;
  ready_();
}

std::string BlkCommit::finish() {
  if (thread_.joinable()) thread_.join();
  if (!error_.empty()) return error_;
  const std::vector<uint64_t> rest = tracker_->take();
  recopied_ += rest.size();
  const int r = disk::copy_clusters(*overlay_, *base_, rest, overlay_->cluster_size(), final_bytes_);
  copied_ += final_bytes_;
  if (r != 0) return "copying into " + base_->path() + " failed: " + err(r);
  if (int s = disk::sync_image(*base_)) return "syncing " + base_->path() + " failed: " + err(s);
  return "";
}

}  // namespace pv::blkback
