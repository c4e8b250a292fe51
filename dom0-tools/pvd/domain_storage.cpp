// Storage verbs on a running domain's disks (docs/disks.md): `pvctl
// disk-limit` (I/O limits: pvd writes the vbd's qos-* back-end keys, which
// pv-backd watches) and `pvctl disk resize DOMAIN VDEV SIZE` (online
// growth: pvd writes resize-bytes, pv-backd grows the image between
// requests, writes the new `sectors` and Connected again as Xen's blkback
// does, and answers in resize-done or resize-error, which pvd waits for),
// and `pvctl disk snapshot DOMAIN VDEV NAME` (pvd names the overlay beside
// the image and writes snapshot-path; pv-backd switches the running disk to
// a new qcow2 overlay between requests and answers in snapshot-done; pvd then
// makes the overlay the disk: params, its record).
#include <unistd.h>

#include <cstring>
#include <memory>

#include "device_nodes.h"
#include "domain_manager.h"
#include "file_names.h"
#include "pv/log.h"

namespace pv::pvd {
namespace A = pv::admin;

namespace {
std::string vbd_backend(uint32_t domid, uint32_t devid) {
  return "/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(devid);
}
constexpr auto kResizeTimeout = std::chrono::seconds(20);
constexpr auto kResizePoll = std::chrono::milliseconds(50);
}  // namespace

config::DiskSpec* DomainManager::running_disk(Domain& d, const std::string& vdev, std::string& why) {
  if (!d.proc) {
    why = "domain '" + d.rec.name() + "' is not running";
    return nullptr;
  }
  for (auto& disk : d.spec.disks)
    if (disk.vdev == vdev) return &disk;
  std::string known;
  for (const auto& disk : d.spec.disks) known += (known.empty() ? "" : ", ") + disk.vdev;
  why = "domain '" + d.rec.name() + "' has no disk " + vdev + (known.empty() ? " (it has none)" : " (it has " + known + ")");
  return nullptr;
}

A::Reply DomainManager::disk_limit(Domain& d, const A::DiskLimitRequest& r) {
  std::string why;
  config::DiskSpec* disk = running_disk(d, r.vdev(), why);
  if (!disk) return error_reply(why.find("not running") != std::string::npos ? A::ERROR_INVALID_STATE : A::ERROR_BAD_REQUEST, why);
  config::DiskIoLimits l = disk->limits;
  for (const auto& s : r.settings()) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) return error_reply(A::ERROR_BAD_REQUEST, "'" + s + "' is not key=value (e.g. iops_rd=100)");
    if (auto e = config::set_disk_limit(l, s.substr(0, eq), s.substr(eq + 1)); !e.empty())
      return error_reply(A::ERROR_BAD_REQUEST, e);
  }
  const std::string be = vbd_backend(d.rec.domid(), config::vdev_to_devid(disk->vdev).value_or(0));
  for (const auto& [key, value] : vbd_qos_keys(l))
    if (!xenstore_.write(be + "/" + key, value)) return error_reply(A::ERROR_INTERNAL, "cannot write " + be + "/" + key);
  disk->limits = l;
  d.rec.set_config_text(config::to_string(d.spec));  // kept across pvd restarts and reboots
  save(d);
  log::info("domain " + std::to_string(d.rec.domid()) + " disk " + disk->vdev + ": I/O limits " +
            (l.any() ? config::to_spec_text(l) : std::string("none")));
  A::Reply reply;
  *reply.mutable_domain() = details(d);
  return reply;
}

void DomainManager::disk_resize(Domain& d, const A::DiskResizeRequest& r, ReplyFn reply) {
  std::string why;
  config::DiskSpec* disk = running_disk(d, r.vdev(), why);
  if (!disk)
    return reply(error_reply(why.find("not running") != std::string::npos ? A::ERROR_INVALID_STATE : A::ERROR_BAD_REQUEST, why));
  if (disk->readonly() || disk->devtype == config::DiskDevType::kCdrom)
    return reply(error_reply(A::ERROR_BAD_REQUEST, "disk " + disk->vdev + " is read-only: it cannot be resized"));
  if (r.bytes() == 0 || r.bytes() % 512)
    return reply(error_reply(A::ERROR_BAD_REQUEST, "the new size must be a whole number of 512-byte sectors"));
  const uint32_t domid = d.rec.domid();
  const std::string be = vbd_backend(domid, config::vdev_to_devid(disk->vdev).value_or(0));
  const auto sectors = xenstore_.read(be + "/sectors");
  if (!sectors || sectors->empty() || sectors->find_first_not_of("0123456789") != std::string::npos)
    return reply(error_reply(A::ERROR_INVALID_STATE, "pv-backd does not serve disk " + disk->vdev + " yet"));
  const uint64_t now = std::stoull(*sectors) * 512;
  if (r.bytes() < now)
    return reply(error_reply(A::ERROR_BAD_REQUEST, "disk " + disk->vdev + " has " + std::to_string(now) +
                                                       " bytes: shrinking is not supported (a guest's data would be cut)"));
  if (r.bytes() == now) {
    A::Reply same;
    *same.mutable_domain() = details(d);
    return reply(same);
  }
  // A request pv-backd answers in resize-done (the size) or resize-error.
  xenstore_.write(be + "/resize-error", "");
  if (!xenstore_.write(be + "/resize-bytes", std::to_string(r.bytes())))
    return reply(error_reply(A::ERROR_INTERNAL, "cannot write " + be + "/resize-bytes"));
  auto w = std::make_shared<BackendWait>(BackendWait{boost::asio::steady_timer(io_),
                                                      std::chrono::steady_clock::now() + kResizeTimeout, "resize",
                                                      std::to_string(r.bytes()), "resize-done", "resize-error",
                                                      disk->vdev, be, domid, nullptr, std::move(reply)});
  poll_backend(w);
}

void DomainManager::disk_snapshot(Domain& d, const A::DiskSnapshotRequest& r, ReplyFn reply) {
  std::string why;
  config::DiskSpec* disk = running_disk(d, r.vdev(), why);
  if (!disk)
    return reply(error_reply(why.find("not running") != std::string::npos ? A::ERROR_INVALID_STATE : A::ERROR_BAD_REQUEST, why));
  if (disk->readonly() || disk->devtype == config::DiskDevType::kCdrom || disk->target.empty())
    return reply(error_reply(A::ERROR_BAD_REQUEST, "disk " + disk->vdev + " is read-only: it takes no snapshot"));
  const std::string& name = r.name();
  if (!is_file_name_word(name))
    return reply(error_reply(A::ERROR_BAD_REQUEST, "snapshot name '" + name + "': use 1-64 letters, digits, '_', '-' or '.'"));
  // Beside the image: <image without .qcow2/.img/.raw>.<name>.qcow2
  const std::string path = image_stem(disk->target) + "." + name + ".qcow2";
  if (::access(path.c_str(), F_OK) == 0)
    return reply(error_reply(A::ERROR_EXISTS, "a file " + path + " exists already (pick another snapshot name)"));
  const uint32_t domid = d.rec.domid();
  const std::string be = vbd_backend(domid, config::vdev_to_devid(disk->vdev).value_or(0)), vdev = disk->vdev;
  xenstore_.write(be + "/snapshot-error", "");
  xenstore_.write(be + "/snapshot-done", "");  // an earlier snapshot of the same name answered there
  if (!xenstore_.write(be + "/snapshot-path", path))
    return reply(error_reply(A::ERROR_INTERNAL, "cannot write " + be + "/snapshot-path"));
  auto on_done = [this, vdev, path, be](Domain& dom) {
    // The overlay is the disk now: for pv-backd restarts (params, format),
    // the domain's reboots and pvd restarts (its record).
    for (auto& k : dom.spec.disks)
      if (k.vdev == vdev) {
        k.target = path;
        k.format = "qcow2";
        k.force_raw = false;
      }
    xenstore_.write(be + "/params", path);
    xenstore_.write(be + "/format", "qcow2");
    xenstore_.write(be + "/force-raw", "0");
    dom.rec.set_config_text(config::to_string(dom.spec));
    save(dom);
  };
  auto w = std::make_shared<BackendWait>(BackendWait{boost::asio::steady_timer(io_),
                                                      std::chrono::steady_clock::now() + kResizeTimeout, "snapshot",
                                                      path, "snapshot-done", "snapshot-error", vdev, be, domid,
                                                      on_done, std::move(reply)});
  poll_backend(w);
}

void DomainManager::poll_backend(const std::shared_ptr<BackendWait>& w) {
  Domain* dom = find(std::to_string(w->domid));
  if (!dom || !dom->proc) return w->reply(error_reply(A::ERROR_INVALID_STATE, "the domain went away during the " + w->what));
  if (xenstore_.read(w->backend + "/" + w->done_key).value_or("") == w->want) {
    if (w->on_done) w->on_done(*dom);
    log::info("domain " + std::to_string(w->domid) + " disk " + w->vdev + ": " + w->what + " done (" + w->want + ")");
    A::Reply ok;
    *ok.mutable_domain() = details(*dom);
    return w->reply(ok);
  }
  if (auto e = xenstore_.read(w->backend + "/" + w->error_key); e && !e->empty())
    return w->reply(error_reply(A::ERROR_INTERNAL, "pv-backd could not " + w->what + " disk " + w->vdev + ": " + *e));
  if (std::chrono::steady_clock::now() > w->deadline)
    return w->reply(error_reply(A::ERROR_INTERNAL, "pv-backd did not " + w->what + " disk " + w->vdev +
                                                       " in time (see pv-backd.log)"));
  w->timer.expires_after(kResizePoll);
  w->timer.async_wait([this, w](const boost::system::error_code& ec) {
    if (!ec) poll_backend(w);
  });
}

}  // namespace pv::pvd
