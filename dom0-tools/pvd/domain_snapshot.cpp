// Domain snapshots (docs/save-format.md, "Snapshots"), as virsh
// snapshot-create with memory and external disk snapshots:
//
//  create: pv-hv checkpoints the running domain to a file and holds every
//    vCPU still once it is written (op kCheckpointToFileHeld); meanwhile
//    pvd takes an external snapshot of each writable disk (pv-backd
//    switches it, between requests, to a new overlay IMAGE.NAME.qcow2 over
//    the image as it was; the guest's front-ends are quiesced, so nothing is
//    in flight), then releases the guest, which goes on in the overlays. The
//    memory and the frozen images are thus of one instant.
//  revert: the domain (if it exists) is destroyed; each frozen image gets a
//    new overlay (IMAGE.NAME.revert-TIME.qcow2: the overlays written since
//    stay, as the history they are), and the domain is restored from the
//    snapshot's memory on them.
//  list, delete: the snapshots kept under <state>/snapshots/<domain>/<name>/
//    (snapshot.pb and state.pvsave); delete forgets the memory, the disk
//    chains stay (`pvctl disk snapshot-delete` merges them).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <algorithm>
#include <functional>
#include <memory>

#include "disk/image_info.h"
#include "disk/qcow2/qcow2_create.h"
#include "domain_manager.h"
#include "file_names.h"
#include "pv/error.h"
#include "pv/files.h"
#include "pv/log.h"
#include "save_call.h"

namespace pv::pvd {
namespace A = pv::admin;
namespace fs = std::filesystem;

namespace {
constexpr uint32_t kDefaultSuspendTimeoutMs = 60'000;

std::string name_rule(const std::string& n) {
  return "snapshot name '" + n + "': use 1-64 letters, digits, '_', '-' or '.' (not first)";
}

bool read_snapshot(const std::string& dir, A::SnapshotInfo& out) {
  std::string bytes;
  try {
    bytes = read_file(dir + "/snapshot.pb");
  } catch (const std::exception&) {
    return false;
  }
  return out.ParseFromString(bytes);
}

// The disks a snapshot freezes: writable ones with an image.
bool frozen(const config::DiskSpec& k) {
  return !k.readonly() && k.devtype == config::DiskDevType::kDisk && !k.target.empty();
}

// The state of one snapshot-create, across its callbacks on pvd's loop.
struct SnapshotRun {
  A::SnapshotInfo info;
  std::string dir, partial;
  std::shared_ptr<SaveCall> call;
  std::vector<std::string> vdevs;  // still to snapshot
  std::string disk_error;          // the first disk that failed
};
}  // namespace

std::string DomainManager::snapshot_dir(const std::string& domain, const std::string& name) const {
  const std::string base = registry_.state_dir() + "/snapshots/" + domain;
  return name.empty() ? base : base + "/" + name;
}

void DomainManager::snapshot_create(Domain& d, const A::SnapshotRequest& r, ReplyFn reply) {
  const std::string& dom = d.rec.name();
  if (!d.proc || d.rec.state() != A::STATE_RUNNING)
    return reply(error_reply(A::ERROR_INVALID_STATE, "domain '" + dom + "' is not running"));
  if (d.saving) return reply(error_reply(A::ERROR_INVALID_STATE, "a save of domain '" + dom + "' is under way"));
  if (!is_file_name_word(r.name())) return reply(error_reply(A::ERROR_BAD_REQUEST, name_rule(r.name())));
  const std::string dir = snapshot_dir(dom, r.name());
  if (fs::exists(dir))
    return reply(error_reply(A::ERROR_EXISTS, "domain '" + dom + "' has a snapshot '" + r.name() + "' already"));
  const uint32_t timeout_ms = r.timeout_ms() ? r.timeout_ms() : kDefaultSuspendTimeoutMs;
  if (timeout_ms > 600'000) return reply(error_reply(A::ERROR_BAD_REQUEST, "snapshot-create: a suspend timeout is at most 600 s"));

  auto run = std::make_shared<SnapshotRun>();
  run->dir = dir;
  run->info.set_name(r.name());
  run->info.set_domain(dom);
  run->info.set_created_unix_s(static_cast<uint64_t>(std::time(nullptr)));
  run->info.set_state_path(dir + "/state.pvsave");
  run->info.set_config_text(d.rec.config_text());
  for (const auto& k : d.spec.disks) {
    if (!frozen(k)) continue;
    auto* o = run->info.add_disks();
    o->set_vdev(k.vdev);
    o->set_image(k.target);
    o->set_format(k.format.empty() ? "raw" : k.format);
    run->vdevs.push_back(k.vdev);
  }
  UniqueFd out, config;
  try {
    fs::create_directories(dir);
    run->partial = run->info.state_path() + ".partial";
    out = UniqueFd(::open(run->partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out) throw_errno("cannot create " + run->partial);
    config = toolstack_record(d.rec);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    return reply(error_reply(A::ERROR_INTERNAL, std::string("snapshot-create: ") + e.what()));
  }

  const uint32_t domid = d.rec.domid();
  const std::string node = "/local/domain/" + std::to_string(domid) + "/control/shutdown";
  auto fail = [this, run, node, domid](const std::string& why, A::ErrorCode code) {
    std::error_code ec;
    fs::remove_all(run->dir, ec);
    if (domains_.contains(domid))
      if (auto v = xenstore_.read(node); v && *v == "suspend") xenstore_.write(node, "");
    log::warning("domain " + run->info.domain() + ": snapshot " + run->info.name() + " not taken: " + why);
    return error_reply(code, "snapshot-create: " + why);
  };
  auto armed = [this, node, dom] {
    if (!xenstore_.write(node, "suspend")) log::warning("snapshot: cannot write " + node);
    log::info("domain " + dom + ": asked to suspend for a snapshot");
  };
  // The guest is held: each disk in turn goes on in an overlay, then the
  // guest is let go. A disk that fails stops the others (the guest goes on;
  // disks switched already stay on their overlays, which is harmless).
  auto next_disk = std::make_shared<std::function<void()>>();
  // It holds itself only weakly (no cycle): the disk snapshot's reply, or
  // SaveCall's `written`, holds it while it is waited for.
  *next_disk = [this, run, domid, self = std::weak_ptr(next_disk)] {
    auto it = domains_.find(domid);
    if (run->vdevs.empty() || !run->disk_error.empty() || it == domains_.end()) {
      if (run->call && !run->call->release()) log::warning("snapshot: cannot tell pv-hv to go on (it will by itself)");
      return;
    }
    A::DiskSnapshotRequest ds;
    ds.set_vdev(run->vdevs.front());
    ds.set_name(run->info.name());
    run->vdevs.erase(run->vdevs.begin());
    disk_snapshot(*it->second, ds, [run, next_disk = self.lock(), vdev = ds.vdev()](const A::Reply& rep) {
      if (rep.error() != A::ERROR_NONE) run->disk_error = "disk " + vdev + ": " + rep.message();
      (*next_disk)();
    });
  };
  auto done = [this, run, reply, fail, domid](int32_t status, const std::string& lost) {
    run->call.reset();  // the op is over: the call (whose callbacks hold `run`) can go
    if (auto it = domains_.find(domid); it != domains_.end()) it->second->saving = false;
    if (!lost.empty()) return reply(fail(lost, A::ERROR_INVALID_STATE));
    if (status != 0)
      return reply(fail(status == -ETIMEDOUT ? "the guest did not suspend in time; it keeps running"
                                             : "pv-hv: " + std::string(std::strerror(-status)),
                        status == -ETIMEDOUT ? A::ERROR_NOT_ACKNOWLEDGED : A::ERROR_INVALID_STATE));
    if (!run->disk_error.empty()) return reply(fail(run->disk_error, A::ERROR_INTERNAL));
    try {
      if (::rename(run->partial.c_str(), run->info.state_path().c_str()) != 0) throw_errno("rename " + run->partial);
      run->info.set_state_bytes(fs::file_size(run->info.state_path()));
      write_file_atomically(run->dir + "/snapshot.pb", run->info.SerializeAsString(), 0600);
    } catch (const std::exception& e) {
      return reply(fail(e.what(), A::ERROR_INTERNAL));
    }
    log::info("domain " + run->info.domain() + ": snapshot " + run->info.name() + " taken (" +
              std::to_string(run->info.disks_size()) + " disk(s), " + std::to_string(run->info.state_bytes()) +
              " bytes of memory state)");
    A::Reply rep;
    *rep.mutable_snapshots()->add_snapshots() = run->info;
    reply(rep);
  };
  try {
    d.saving = true;
    run->call = SaveCall::start(io_, registry_.control_socket(domid), ctl::Op::kCheckpointToFileHeld, timeout_ms,
                                {out.get(), config.get()}, armed, done, [next_disk] { (*next_disk)(); });
  } catch (const std::exception& e) {
    d.saving = false;
    return reply(fail(e.what(), A::ERROR_INTERNAL));
  }
}

A::Reply DomainManager::snapshot_list(const std::string& domain) const {
  A::Reply rep;
  auto* l = rep.mutable_snapshots();
  std::error_code ec;
  std::vector<A::SnapshotInfo> found;
  for (const auto& e : fs::directory_iterator(snapshot_dir(domain), ec)) {
    A::SnapshotInfo i;
    if (e.is_directory() && read_snapshot(e.path().string(), i)) found.push_back(std::move(i));
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    return a.created_unix_s() != b.created_unix_s() ? a.created_unix_s() < b.created_unix_s() : a.name() < b.name();
  });
  for (auto& i : found) *l->add_snapshots() = std::move(i);
  return rep;
}

A::Reply DomainManager::snapshot_delete(const A::SnapshotRequest& r) {
  const std::string& domain = r.domain().name_or_id();
  Domain* d = find(domain);
  const std::string name = d ? d->rec.name() : domain;
  A::SnapshotInfo info;
  const std::string dir = snapshot_dir(name, r.name());
  if (!is_file_name_word(r.name()) || !read_snapshot(dir, info))
    return error_reply(A::ERROR_NO_SUCH_DOMAIN, "domain '" + name + "' has no snapshot '" + r.name() + "'");
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return error_reply(A::ERROR_INTERNAL, "cannot remove " + dir + ": " + ec.message());
  log::info("domain " + name + ": snapshot " + r.name() + " deleted (its disk images stay)");
  return snapshot_list(name);
}

void DomainManager::snapshot_revert(const A::SnapshotRequest& r, ReplyFn reply) {
  const std::string& domain = r.domain().name_or_id();
  Domain* d = find(domain);
  const std::string name = d ? d->rec.name() : domain;
  A::SnapshotInfo info;
  if (!is_file_name_word(r.name()) || !read_snapshot(snapshot_dir(name, r.name()), info))
    return reply(error_reply(A::ERROR_NO_SUCH_DOMAIN, "domain '" + name + "' has no snapshot '" + r.name() + "'"));
  for (const auto& k : info.disks()) {
    struct stat st{};
    if (::stat(k.image().c_str(), &st) != 0)
      return reply(error_reply(A::ERROR_INVALID_STATE, "snapshot '" + r.name() + "': its image of disk " + k.vdev() +
                                                            ", " + k.image() + ", is gone: " + std::strerror(errno)));
  }
  // Then the restore on new overlays over the frozen images.
  auto restore = [this, info, name, reply] {
    // The overlays made, removed again if the restore fails: filled by the
    // edit, which runs inside restore_from_file, so shared with its reply.
    auto made = std::make_shared<std::vector<std::string>>();
    auto edit = [&](config::DomainConfig& spec) -> std::string {
      const std::string stamp = std::to_string(std::time(nullptr));
      for (const auto& k : info.disks()) {
        const std::string overlay = image_stem(k.image()) + "." + info.name() + ".revert-" + stamp + ".qcow2";
        try {
          const uint64_t size = disk::describe_image(k.image()).virtual_size;
          disk::create_qcow2(overlay, size, k.image(), k.format());
        } catch (const std::exception& e) {
          return "cannot make an overlay for disk " + k.vdev() + " over " + k.image() + ": " + e.what();
        }
        made->push_back(overlay);
        for (auto& disk : spec.disks)
          if (disk.vdev == k.vdev()) {
            disk.target = overlay;
            disk.format = "qcow2";
            disk.force_raw = false;
          }
      }
      return "";
    };
    restore_from_file(info.state_path(), name, edit, [reply, made, name, info](const A::Reply& rep) {
      if (rep.error() != A::ERROR_NONE) {
        for (const auto& f : *made) ::unlink(f.c_str());
      } else {
        log::info("domain " + name + ": reverted to snapshot " + info.name());
      }
      reply(rep);
    });
  };
  if (!d) return restore();
  log::info("domain " + name + ": destroyed to revert it to snapshot " + r.name());
  destroy(*d, [restore](const A::Reply&) { restore(); });
}

}  // namespace pv::pvd
