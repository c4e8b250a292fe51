// BlkBackend's live commit (blk_commit.h; docs/disks.md "Commit"): the
// request in commit-base, the copy started with the queues serving the
// overlay through the commit's tracker, and the pivot onto the base once
// the copy converged.
#include <sys/stat.h>

#include <chrono>

#include "blkback/blk_backend.h"
#include "disk/image_commit.h"
#include "pv/error.h"

namespace pv::blkback {

namespace {
bool same_file(const std::string& a, const std::string& b) {
  if (a == b) return true;
  struct stat sa{}, sb{};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
}  // namespace

void BlkBackend::pause_queues() {
  for (auto& q : queues_) q.io->pause();
}

void BlkBackend::resume_queues() {
  for (auto& q : queues_) q.io->resume();
}

void BlkBackend::commit_if_asked() {
  const std::string base = read_backend("commit-base").value_or("");
  if (base.empty()) return;
  write_backend("commit-base", "");  // taken: the same base may be asked again later
  auto refuse = [&](const std::string& why) {
    log("commit into " + base + " refused: " + why, pv::log::Level::kError);
    write_backend("commit-error", why);
  };
  uint64_t rate = 0;
  try {
    rate = backend_uint("commit-speed", 0);
  } catch (const UserError& e) {
    return refuse(e.what());
  }
  if (!image_) return refuse("the disk has no image open");
  if (readonly_) return refuse("the disk is read-only");
  if (commit_) return refuse("a commit of the disk is under way already");
  auto overlay = std::dynamic_pointer_cast<disk::Qcow2Image>(image_);
  if (!overlay) return refuse("the disk's image " + params_ + " is " + format_ + ", not a qcow2 overlay: there is nothing to commit");
  if (overlay->backing_path().empty()) return refuse(params_ + " has no backing file: there is nothing to commit it into");
  if (!same_file(overlay->backing_path(), base))
    return refuse("the overlay's backing file is " + overlay->backing_path() + ", not " + base);
  std::shared_ptr<disk::DiskImage> target;
  try {
    target = disk::open_commit_base(*overlay);
  } catch (const std::exception& e) {
    return refuse(e.what());
  }
  // The queues go on with the tracker from their next request on; the copy
  // starts once they do.
  pause_queues();
  std::weak_ptr<XenbusDevice> self = weak_from_this();
  auto post = ctx().post;
  const std::string name = id().name();
  commit_ = std::make_unique<BlkCommit>(
      overlay, target,
      [self, post] {
        post([self] {
          if (auto d = self.lock()) static_cast<BlkBackend&>(*d).commit_ready();
        });
      },
      [name](const std::string& line) { pv::log::info(name + ": " + line); }, rate);
  for (auto& q : queues_) q.io->set_image(commit_->tracked());
  resume_queues();
  commit_started_ = std::chrono::steady_clock::now();
  log("commit: copying " + params_ + " into " + base + " (" + std::string(target->format()) + ") while the guest runs" +
      (rate ? ", at most " + std::to_string(rate) + " bytes/s" : std::string()));
}

void BlkBackend::commit_ready() {
  if (!commit_) return;
  pause_queues();
  const auto start = std::chrono::steady_clock::now();
  const std::string why = commit_->finish();
  std::unique_ptr<BlkCommit> done = std::move(commit_);
  if (!why.empty()) {
    for (auto& q : queues_) q.io->set_image(image_);  // the overlay, untracked: nothing lost
    resume_queues();
    log("commit of " + params_ + " failed: " + why, pv::log::Level::kError);
    write_backend("commit-error", why + " (the disk goes on in " + params_ + ")");
    return;
  }
  const std::string overlay = params_, base = done->base()->path();
  image_ = done->base();
  for (auto& q : queues_) q.io->set_image(image_);
  params_ = base;
  format_ = std::string(image_->format());
  force_raw_ = false;  // a raw base is opened with the probe (open_commit_base)
  // A pv-backd restarted from here on opens the base: the overlay's
  // clusters would hide the guest's writes from now on.
  write_backend("params", params_);
  write_backend("format", format_);
  write_backend("force-raw", "0");
  resume_queues();
  const auto now = std::chrono::steady_clock::now();
  const auto pause_us = std::chrono::duration_cast<std::chrono::microseconds>(now - start).count();
  const auto total_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - commit_started_).count();
  log("commit: now serving " + base + " (" + format_ + "), " + overlay + " merged: " +
      std::to_string(done->copied_bytes()) + " bytes copied in " + std::to_string(done->passes()) + " passes (" +
      std::to_string(done->recopied_clusters()) + " clusters again), " +
      std::to_string(total_ms) + " ms; queues paused " + std::to_string(pause_us) + " us for the last " +
      std::to_string(done->final_bytes()) + " bytes");
  write_backend("commit-done", base);
}

}  // namespace pv::blkback
