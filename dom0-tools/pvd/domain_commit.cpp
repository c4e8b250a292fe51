// `pvctl disk commit DOMAIN VDEV` and `pvctl disk snapshot-delete DOMAIN
// VDEV NAME` (docs/disks.md "Commit"): pvd checks the disk and its base
// and writes the vbd's commit-base; pv-backd merges the active overlay into
// the base while the guest runs, pivots onto it and answers in commit-done
// (or commit-error: the overlay still the disk). pvd then makes the base
// the disk (params, its record) and removes the merged overlay. A snapshot
// lower in the chain: pvd also writes commit-top (that overlay); pv-backd
// merges it into its base and renames the backing file of the image above
// it; the disk's image stays.
#include <unistd.h>

#include <filesystem>

#include "device_nodes.h"
#include "disk/image_commit.h"
#include "disk/image_info.h"
#include "domain_manager.h"
#include "pv/error.h"
#include "pv/log.h"

namespace pv::pvd {
namespace A = pv::admin;

namespace {
// How long pv-backd may take: a minute, and the overlay's bytes at the
// rate asked (or 8 MiB/s, slower than any disk this runs on).
std::chrono::seconds commit_timeout(uint64_t overlay_bytes, uint64_t rate) {
  return std::chrono::seconds(60 + overlay_bytes / (rate ? rate : 8u << 20));
}

std::string vbd_backend(uint32_t domid, uint32_t devid) {
  return "/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(devid);
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  return a == b || std::filesystem::equivalent(a, b, ec);
}

// The snapshot NAME's overlay in the chain (image first, then what it stands
// on): the file named <stem>.<NAME>.qcow2. -1 when none.
int find_snapshot(const std::vector<std::string>& chain, const std::string& name) {
  const std::string tail = "." + name + ".qcow2";
  for (size_t i = 0; i < chain.size(); i++)
    if (chain[i].size() > tail.size() && chain[i].ends_with(tail)) return int(i);
  return -1;
}
}  // namespace

void DomainManager::adopt_disk_switches(Domain& d) {
  bool changed = false;
  for (auto& disk : d.spec.disks) {
    if (disk.target.empty()) continue;
    const std::string be = vbd_backend(d.rec.domid(), config::vdev_to_devid(disk.vdev).value_or(0));
    // A commit asked (commit-speed written) and not answered yet: its
    // answer names the base, the backing file of the merged overlay.
    if (xenstore_.read(be + "/commit-speed") && xenstore_.read(be + "/commit-done").value_or("").empty() &&
        xenstore_.read(be + "/commit-error").value_or("").empty()) {
      try {
        const std::string top = xenstore_.read(be + "/commit-top").value_or("");
        const auto chain = disk::describe_image(top.empty() ? disk.target : top).backing_chain;
        if (!chain.empty()) {
          log::info("domain " + std::to_string(d.rec.domid()) + " disk " + disk.vdev + ": waiting for the commit into " +
                    chain[0].path + " under way");
          auto w = std::make_shared<BackendWait>(BackendWait{
              boost::asio::steady_timer(io_), std::chrono::steady_clock::now() + std::chrono::hours(24), "commit",
              chain[0].path, "commit-done", "commit-error", disk.vdev, be, d.rec.domid(),
              [this](Domain& dom) { adopt_disk_switches(dom); }, [](A::Reply) {}});
          boost::asio::post(io_, [this, w] { poll_backend(w); });
        }
      } catch (const std::exception& e) {
        log::warning("domain " + std::to_string(d.rec.domid()) + " disk " + disk.vdev + ": a commit seems under way: " + e.what());
      }
    }
    const std::string params = xenstore_.read(be + "/params").value_or("");
    if (params.empty() || params == disk.target) continue;
    if (xenstore_.read(be + "/commit-done").value_or("") != params &&
        xenstore_.read(be + "/snapshot-done").value_or("") != params)
      continue;
    log::info("domain " + std::to_string(d.rec.domid()) + " disk " + disk.vdev + ": pv-backd switched it from " +
              disk.target + " to " + params + " while pvd was away; recorded");
    disk.target = params;
    disk.format = xenstore_.read(be + "/format").value_or("qcow2");
    disk.force_raw = false;
    changed = true;
  }
  if (!changed) return;
  d.rec.set_config_text(config::to_string(d.spec));
  save(d);
}

std::string DomainManager::image_used_elsewhere(const Domain& d, const std::string& image) const {
  for (const auto& [id, other] : domains_) {
    if (other.get() == &d) continue;
    for (const auto& disk : other->spec.disks) {
      if (disk.target.empty()) continue;
      bool uses = same_file(disk.target, image);
      if (!uses && disk.format == "qcow2") {
        try {
          for (const auto& b : disk::describe_image(disk.target).backing_chain) uses = uses || same_file(b.path, image);
        } catch (const std::exception&) {
        }
      }
      if (uses) return "domain '" + other->rec.name() + "' disk " + disk.vdev + " (" + disk.target + ")";
    }
  }
  return "";
}

void DomainManager::disk_commit(Domain& d, const A::DiskCommitRequest& r, ReplyFn reply) {
  const std::string verb = r.snapshot().empty() ? "commit" : "delete snapshot " + r.snapshot() + " of";
  std::string why;
  config::DiskSpec* disk = running_disk(d, r.vdev(), why);
  if (!disk) {
    if (why.find("not running") != std::string::npos)
      why += ": commit its image offline with pvctl disk commit PATH (as qemu-img commit)";
    return reply(error_reply(why.find("not running") != std::string::npos ? A::ERROR_INVALID_STATE : A::ERROR_BAD_REQUEST, why));
  }
  auto bad = [&](const std::string& m) { reply(error_reply(A::ERROR_BAD_REQUEST, "cannot " + verb + " disk " + disk->vdev + ": " + m)); };
  if (disk->readonly() || disk->devtype == config::DiskDevType::kCdrom || disk->target.empty())
    return bad("it is read-only");
  if (disk->format != "qcow2") return bad(disk->target + " is a " + disk->format + " image, not an overlay: there is nothing to merge");
  std::vector<std::string> chain{disk->target};
  std::vector<std::string> formats{"qcow2"};
  uint64_t overlay_bytes = 0;
  try {
    const disk::ImageInfo info = disk::describe_image(disk->target);
    overlay_bytes = info.allocated_bytes;
    for (const auto& b : info.backing_chain) {
      chain.push_back(b.path);
      formats.push_back(b.format);
    }
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  int at = 0;  // the overlay merged: the disk's image, or one below it (snapshot-delete)
  if (!r.snapshot().empty()) {
    at = find_snapshot(chain, r.snapshot());
    if (at < 0) {
      std::string names;
      for (size_t i = 0; i + 1 < chain.size(); i++) names += (names.empty() ? "" : ", ") + chain[i];
      return bad("it has no snapshot " + r.snapshot() + " (no " + "<image>." + r.snapshot() + ".qcow2 in its chain: " + names + ")");
    }
    if (at == int(chain.size()) - 1) return bad(chain[at] + " is the bottom of the chain, not a snapshot overlay");
    if (formats[at] != "qcow2") return bad(chain[at] + " is not a qcow2 overlay");
  }
  if (chain.size() < size_t(at) + 2) return bad(disk->target + " has no backing file: there is nothing to merge it into");
  const std::string overlay = chain[at], base = chain[at + 1], base_format = formats[at + 1];
  try {
    disk::check_commit_base(base);
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  // Changed: the base (written), and for a lower overlay the overlay
  // (removed) and the image above it (its header renamed).
  for (int i = std::max(at - 1, 0); i <= at + 1; i++)
    if (const std::string other = image_used_elsewhere(d, chain[i]); !other.empty())
      return reply(error_reply(A::ERROR_IN_USE, "cannot " + verb + " disk " + disk->vdev + ": " + chain[i] +
                                                    " is also under " + other + "; the commit would change that disk"));
  const uint32_t domid = d.rec.domid();
  const std::string be = vbd_backend(domid, config::vdev_to_devid(disk->vdev).value_or(0)), vdev = disk->vdev;
  xenstore_.write(be + "/commit-error", "");
  xenstore_.write(be + "/commit-done", "");
  xenstore_.write(be + "/commit-speed", std::to_string(r.speed()));
  xenstore_.write(be + "/commit-top", at == 0 ? "" : overlay);
  xenstore_.write(be + "/commit-remove", r.keep_overlay() ? "0" : "1");
  if (!xenstore_.write(be + "/commit-base", base))
    return reply(error_reply(A::ERROR_INTERNAL, "cannot write " + be + "/commit-base"));
  const bool keep = r.keep_overlay();
  const bool lower = at > 0;
  auto on_done = [this, vdev, overlay, base, base_format, be, keep, lower](Domain& dom) {
    // pv-backd removed the merged overlay (commit-remove) unless kept.
    if (!keep && ::access(overlay.c_str(), F_OK) == 0)
      log::warning("domain " + std::to_string(dom.rec.domid()) + " disk " + vdev + ": the merged overlay " + overlay +
                   " is still there (see pv-backd.log)");
    if (lower) return;  // the disk's image is the same; the chain under it is shorter
    // The base is the disk now (pv-backd named it in params already).
    for (auto& k : dom.spec.disks)
      if (k.vdev == vdev) {
        k.target = base;
        k.format = base_format;
        k.force_raw = false;
      }
    xenstore_.write(be + "/params", base);
    xenstore_.write(be + "/format", base_format);
    xenstore_.write(be + "/force-raw", "0");
    dom.rec.set_config_text(config::to_string(dom.spec));
    save(dom);
  };
  auto w = std::make_shared<BackendWait>(BackendWait{boost::asio::steady_timer(io_),
                                                      std::chrono::steady_clock::now() + commit_timeout(overlay_bytes, r.speed()), "commit",
                                                      base, "commit-done", "commit-error", vdev, be, domid, on_done,
                                                      std::move(reply)});
  poll_backend(w);
}

}  // namespace pv::pvd
