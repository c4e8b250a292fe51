// BlkBackend's commits (blk_commit.h; docs/disks.md "Commit and snapshot
// deletion"): the request in commit-base (and commit-top), the copy started,
// and the pivot once it converged.
//
// Active commit (commit-top empty or the disk's image): the queues serve
// the overlay through the commit's tracker during the copy, then the base.
// Lower commit (commit-top an overlay below the disk's image, as
// snapshot-delete of an older snapshot asks): that overlay is read-only
// history, so the copy needs no tracking; at the pivot the queues pause,
// the disk's image is closed, the image above the merged overlay is told
// its backing file is now the base (rebase_qcow2_unsafe) and the disk's
// image is opened again over the shorter chain.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <chrono>

#include "blkback/blk_backend.h"
#include "disk/image_commit.h"
#include "disk/open_disk_image.h"
#include "disk/qcow2/qcow2_rebase.h"
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

// The merged overlay, once nothing reads it: removed when the toolstack
// asked (commit-remove), here rather than by the toolstack afterwards, so
// that a toolstack that stops before it records the switch cannot serve
// the stale overlay later: its configuration then names a missing file.
void BlkBackend::remove_merged(const std::string& path) {
  if (!commit_remove_) return;
  if (::unlink(path.c_str()) != 0)
    log("commit: cannot remove the merged overlay " + path + ": " + std::strerror(errno), pv::log::Level::kError);
}

void BlkBackend::commit_if_asked() {
  const std::string base = read_backend("commit-base").value_or("");
  if (base.empty()) return;
  write_backend("commit-base", "");  // taken: the same base may be asked again later
  const std::string top = read_backend("commit-top").value_or("");
  commit_remove_ = read_backend("commit-remove").value_or("0") == "1";
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
  auto active = std::dynamic_pointer_cast<disk::Qcow2Image>(image_);
  if (!active) return refuse("the disk's image " + params_ + " is " + format_ + ", not a qcow2 overlay: there is nothing to commit");
  const bool lower = !top.empty() && !same_file(top, params_);
  std::shared_ptr<disk::Qcow2Image> overlay = active;
  commit_above_.clear();
  if (lower) {
    // The image whose backing file is `top`, in the chain as opened.
    const disk::Qcow2Image* above = active.get();
    while (above && !same_file(above->backing_path(), top)) above = above->backing_qcow2();
    if (!above || !above->backing_qcow2()) return refuse(top + " is not a qcow2 image in the disk's backing chain");
    try {
      overlay = std::make_shared<disk::Qcow2Image>(top, true);  // a view of our own: it is not written
    } catch (const std::exception& e) {
      return refuse(e.what());
    }
    commit_above_ = above->path();
  }
  if (overlay->backing_path().empty()) return refuse(overlay->path() + " has no backing file: there is nothing to commit it into");
  if (!same_file(overlay->backing_path(), base))
    return refuse("the backing file of " + overlay->path() + " is " + overlay->backing_path() + ", not " + base);
  std::shared_ptr<disk::DiskImage> target;
  try {
    target = disk::open_commit_base(*overlay);
  } catch (const std::exception& e) {
    return refuse(e.what());
  }
  // An active commit: the queues go on with the tracker from their next
  // request on; the copy starts once they do.
  if (!lower) pause_queues();
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
  if (!lower) {
    for (auto& q : queues_) q.io->set_image(commit_->tracked());
    resume_queues();
  }
  commit_started_ = std::chrono::steady_clock::now();
  log("commit: copying " + overlay->path() + " into " + base + " (" + std::string(target->format()) + ") while the guest runs" +
      (lower ? ", then " + commit_above_ + " stands on " + base : std::string()) +
      (rate ? ", at most " + std::to_string(rate) + " bytes/s" : std::string()));
}

void BlkBackend::commit_ready() {
  if (!commit_) return;
  pause_queues();
  const auto start = std::chrono::steady_clock::now();
  std::string why = commit_->finish();
  std::unique_ptr<BlkCommit> done = std::move(commit_);
  const std::string base = done->base()->path(), base_format(done->base()->format());
  const std::string merged = commit_above_.empty() ? params_ : done->tracked()->path();
  if (why.empty() && !commit_above_.empty()) {
    // Our chain is closed, the image above the merged overlay renamed to
    // stand on the base, and the disk's image opened again.
    const uint64_t copied = done->copied_bytes();
    const unsigned passes = done->passes();
    done.reset();  // the base's writer and the overlay's view closed
    for (auto& q : queues_) q.io->set_image(nullptr);
    image_.reset();
    try {
      disk::rebase_qcow2_unsafe(commit_above_, base, base_format);
    } catch (const std::exception& e) {
      why = e.what();
    }
    try {
      image_ = disk::open_disk_image(params_, format_, false, force_raw_);
    } catch (const std::exception& e) {
      why += std::string(why.empty() ? "" : "; ") + "and the disk's image cannot be opened again: " + e.what();
    }
    for (auto& q : queues_) q.io->set_image(image_);
    resume_queues();
    if (!why.empty()) {
      log("commit of " + merged + " failed: " + why, pv::log::Level::kError);
      write_backend("commit-error", why);
      return;
    }
    const auto pause_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count();
    log("commit: " + merged + " merged into " + base + ", " + commit_above_ + " stands on it: " + std::to_string(copied) +
        " bytes copied in " + std::to_string(passes) + " passes; queues paused " + std::to_string(pause_us) +
        " us to reopen " + params_);
    remove_merged(merged);
    write_backend("commit-done", base);
    return;
  }
  if (!why.empty()) {
    for (auto& q : queues_) q.io->set_image(image_);  // the overlay, untracked: nothing lost
    resume_queues();
    log("commit of " + merged + " failed: " + why, pv::log::Level::kError);
    write_backend("commit-error", why + " (the disk goes on in " + params_ + ")");
    return;
  }
  image_ = done->base();
  for (auto& q : queues_) q.io->set_image(image_);
  params_ = base;
  format_ = base_format;
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
  log("commit: now serving " + base + " (" + format_ + "), " + merged + " merged: " +
      std::to_string(done->copied_bytes()) + " bytes copied in " + std::to_string(done->passes()) + " passes (" +
      std::to_string(done->recopied_clusters()) + " clusters again), " + std::to_string(total_ms) +
      " ms; queues paused " + std::to_string(pause_us) + " us for the last " + std::to_string(done->final_bytes()) +
      " bytes");
  remove_merged(merged);
  write_backend("commit-done", base);
}

}  // namespace pv::blkback
