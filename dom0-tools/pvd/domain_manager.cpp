#include "domain_manager.h"
#include "vcpu_availability.h"

#include <signal.h>
#include <sys/stat.h>
#include <cerrno>
#include <sys/random.h>
#include <uuid/uuid.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <set>

#include "admin_framing.h"
#include "domain_control.h"
#include "domain_memory.h"
#include "admin_utf8.h"
#include "config/vif_spec.h"
#include "domain0.h"
#include "device_record.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/process_args.h"

namespace pv::pvd {
namespace A = pv::admin;
using namespace std::chrono_literals;

namespace {

// More restarts than this within kRestartWindow and the domain is left
// crashed instead of restarted again (a boot loop).
constexpr size_t kMaxRestarts = 10;
constexpr auto kRestartWindow = 60s;
// How long a destroyed domain's pv-hv gets between SIGTERM and SIGKILL.
constexpr auto kDestroyGrace = 5s;
// The highest domain ID (below Xen's DOMID_FIRST_RESERVED, 0x7ff0).
constexpr uint32_t kMaxDomid = 0x7fef;

// pv-hv's exit statuses (docs/running-a-domain.md) as shutdown reasons.
struct Ending {
  std::string reason;
  bool crashed = false;
};
Ending ending_from_status(const std::string& status_line) {
  if (status_line.empty()) return {"pv-hv exited without a status (killed?)", true};
  // The reason goes into the record and replies: UTF-8 only (admin_utf8.h).
  const std::string name = A::to_valid_utf8(status_line.substr(status_line.find(' ') + 1));
  if (name == "crash" || name == "error") return {name, true};
  return {name};
}

// What pvd does for an xl on_* action. Core dumps are not taken (there is
// no dump format yet): the coredump-* actions act as their plain forms.
enum class Outcome { kDestroy, kRestart, kPreserve };
Outcome outcome(config::ShutdownAction a) {
  using SA = config::ShutdownAction;
  switch (a) {
    case SA::kRestart:
    case SA::kRenameRestart:
    case SA::kCoredumpRestart:
    case SA::kSoftReset:
      return Outcome::kRestart;
    case SA::kPreserve:
      return Outcome::kPreserve;
    case SA::kDestroy:
    case SA::kCoredumpDestroy:
      break;
  }
  return Outcome::kDestroy;
}

struct Parsed {
  std::optional<config::DomainConfig> config;
  std::string message;  // every error, or every warning
};
Parsed parse(const std::string& text, const std::string& path) {
  auto r = config::parse_domain_config(text, path);
  Parsed p;
  for (const auto& d : r.ok() ? r.warnings : r.errors) p.message += (p.message.empty() ? "" : "\n") + d.to_string();
  p.config = std::move(r.config);
  return p;
}

// A version-4 (random) UUID, lower-case 8-4-4-4-12 (RFC 4122). The bytes
// come from getrandom(2) and a failure is an error: libuuid's own
// uuid_generate_random would fall back to a weak generator without saying
// so. libuuid lays the result out.
std::string random_uuid() {
  uuid_t u;
  for (size_t got = 0; got < sizeof u;) {
    const ssize_t n = ::getrandom(u + got, sizeof u - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw SystemError("cannot make a domain UUID: getrandom", n < 0 ? errno : EIO);
    got += static_cast<size_t>(n);
  }
  u[6] = static_cast<unsigned char>((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = static_cast<unsigned char>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char s[37];
  uuid_unparse_lower(u, s);
  return s;
}

bool cmdline_names_domid(pid_t pid, uint32_t domid) {
  return has_option(process_args(pid), "--domid", std::to_string(domid));
}

}  // namespace

A::Reply error_reply(A::ErrorCode code, const std::string& message) {
  A::Reply r;
  r.set_api_version(A::kApiVersion);
  r.set_error(code);
  r.set_message(message);
  return r;
}

DomainManager::DomainManager(boost::asio::io_context& io, Registry& registry, XenstoreHost& xenstore,
                             std::string pv_hv_path)
    : io_(io), registry_(registry), xenstore_(xenstore), pv_hv_(std::move(pv_hv_path)),
      last_domid_(registry_.last_domid()) {}

void DomainManager::reattach() {
  std::set<uint32_t> known;
  // In the order they were created (IDs go up), so the disk-sharing check
  // below sees each domain after those that were there before it.
  auto records = registry_.load_all();
  std::sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.domid() < b.domid(); });
  for (auto& rec : records) {
    known.insert(rec.domid());
    auto parsed = parse(rec.config_text(), rec.config_path());
    if (!parsed.config) {
      log::error("domain " + std::to_string(rec.domid()) + ": stored configuration no longer parses: " +
                 parsed.message);
      continue;
    }
    if (auto why = apply_recorded_devices(rec, *parsed.config); !why.empty())
      log::error("domain " + std::to_string(rec.domid()) + ": hot-plugged devices not restored: " + why);
    auto d = std::make_unique<Domain>();
    d->rec = rec;
    d->spec = *parsed.config;
    const uint32_t domid = rec.domid();
    last_domid_ = std::max(last_domid_, domid);  // a record newer than last-domid (an older pvd)
    const bool should_run = rec.state() == A::STATE_RUNNING || rec.state() == A::STATE_PAUSED;
    Domain& ref = *d;
    domains_[domid] = std::move(d);
    if (!should_run) continue;
    if (rec.pid() && cmdline_names_domid(static_cast<pid_t>(rec.pid()), domid))
      ref.proc = DomainProcess::attach(io_, static_cast<pid_t>(rec.pid()), [this, domid] { on_exit(domid); });
    if (ref.proc) {
      // Adopted as it runs: a clash with a domain adopted before (two pvds'
      // worth of history, an older pvd that did not check) is reported,
      // never acted on.
      if (auto why = disk_sharing_conflict(rec.name(), ref.spec, disks_in_use(domid)); !why.empty())
        log::warning("domain " + std::to_string(domid) + " (" + rec.name() + "), adopted as it runs: " + why);
      // The restored store still has the domain (add_domain then only serves
      // its ring again); its nodes are made anew only if the store was lost.
      std::vector<NodeWrite> devices;
      try {
        devices = device_nodes(domid, rec.uuid(), ref.spec, resolve_bridge_, &ref.leases);
      } catch (const std::exception& e) {
        log::error("domain " + std::to_string(domid) + ": devices not restored: " + e.what());
      }
      xenstore_.add_domain(domid, rec.name(), rec.uuid(), registry_.xenstore_link(domid), std::move(devices));
      place_in_cgroup(ref);  // already there, unless pvd's slice was lost
      adopt_disk_switches(ref);
      log::info("reattached to domain " + std::to_string(domid) + " (" + rec.name() + "), pv-hv pid " +
                std::to_string(rec.pid()));
    } else {
      // It ended while pvd was away: act on how it ended, as if we had seen it.
      boost::asio::post(io_, [this, domid] { on_exit(domid); });
    }
  }
  // The restored store may name domains pvd no longer has (ended as pvd died).
  xenstore_.forget_domains_except(known);
}

DomainManager::Domain* DomainManager::find(const std::string& name_or_id) {
  for (auto& [id, d] : domains_)
    if (d->rec.name() == name_or_id || std::to_string(id) == name_or_id) return d.get();
  return nullptr;
}

uint32_t DomainManager::next_domid() const {
  uint32_t id = last_domid_;
  for (uint32_t tries = 0; tries < kMaxDomid; tries++) {
    id = id >= kMaxDomid ? 1 : id + 1;  // 0 is Domain-0
    if (!domains_.count(id)) return id;
  }
  throw UserError("every domain ID (1-" + std::to_string(kMaxDomid) + ") is in use");
}

uint32_t DomainManager::allocate_domid() {
  const uint32_t id = next_domid();
  registry_.save_last_domid(id);
  last_domid_ = id;
  return id;
}

void DomainManager::handle(const A::Request& req, ReplyFn reply) {
  auto with_domain = [&](const A::DomainRef& ref, auto&& fn) {
    if (is_domain0(ref.name_or_id()))
      return reply(error_reply(A::ERROR_INVALID_STATE, "Domain-0 is the host itself: pvd does not act on it"));
    Domain* d = find(ref.name_or_id());
    if (!d) return reply(error_reply(A::ERROR_NO_SUCH_DOMAIN, "no domain named '" + ref.name_or_id() + "'"));
    fn(*d);
  };
  switch (req.op_case()) {
    case A::Request::kCreate:
      return create(req.create(), reply);
    case A::Request::kList:
      return reply(list(req.list().disks()));
    case A::Request::kInfo:
      if (is_domain0(req.info().name_or_id())) {
        A::Reply r;
        *r.mutable_domain() = domain0_info();
        return reply(r);
      }
      return with_domain(req.info(), [&](Domain& d) {
        A::Reply r;
        *r.mutable_domain() = details(d);
        reply(r);
      });
    case A::Request::kDestroy:
      return with_domain(req.destroy(), [&](Domain& d) { destroy(d, reply); });
    case A::Request::kPause:
      return with_domain(req.pause(), [&](Domain& d) { reply(pause(d, true)); });
    case A::Request::kUnpause:
      return with_domain(req.unpause(), [&](Domain& d) { reply(pause(d, false)); });
    case A::Request::kShutdown:
      return with_domain(req.shutdown().domain(),
                         [&](Domain& d) { request_shutdown(d, "poweroff", req.shutdown(), reply); });
    case A::Request::kReboot:
      return with_domain(req.reboot(), [&](Domain& d) { request_shutdown(d, "reboot", A::ShutdownRequest(), reply); });
    case A::Request::kSchedCredit:
      return reply(sched_credit(req.sched_credit()));
    case A::Request::kVcpuList:
      return reply(vcpu_list(req.vcpu_list()));
    case A::Request::kVcpuPin:
      return reply(vcpu_pin(req.vcpu_pin()));
    case A::Request::kTop:
      return reply(top());
    case A::Request::kMemSet:
      return with_domain(req.mem_set().domain(), [&](Domain& d) { reply(mem_set(d, req.mem_set().mib())); });
    case A::Request::kVcpuSet:
      return with_domain(req.vcpu_set().domain(), [&](Domain& d) { reply(vcpu_set(d, req.vcpu_set().vcpus())); });
    case A::Request::kMemMax:
      return with_domain(req.mem_max().domain(), [&](Domain& d) { reply(mem_max(d, req.mem_max().mib())); });
    case A::Request::kBlockAttach:
      return with_domain(req.block_attach().domain(), [&](Domain& d) { reply(block_attach(d, req.block_attach().spec())); });
    case A::Request::kVifAttach:
      return with_domain(req.vif_attach().domain(),
                         [&](Domain& d) { reply(network_attach(d, req.vif_attach().spec())); });
    case A::Request::kBlockDetach:
      return with_domain(req.block_detach().domain(), [&](Domain& d) { detach(d, "vbd", req.block_detach(), reply); });
    case A::Request::kVifDetach:
      return with_domain(req.vif_detach().domain(),
                         [&](Domain& d) { detach(d, "vif", req.vif_detach(), reply); });
    case A::Request::kBlockList:
      return with_domain(req.block_list(), [&](Domain& d) { reply(device_list(d, "vbd")); });
    case A::Request::kVifList:
      return with_domain(req.vif_list(), [&](Domain& d) { reply(device_list(d, "vif")); });
    case A::Request::kDiskLimit:
      return with_domain(req.disk_limit().domain(), [&](Domain& d) { reply(disk_limit(d, req.disk_limit())); });
    case A::Request::kDiskResize:
      return with_domain(req.disk_resize().domain(), [&](Domain& d) { disk_resize(d, req.disk_resize(), reply); });
    case A::Request::kTemplateCreate:
      return with_domain(req.template_create().from(), [&](Domain& d) { template_create(d, req.template_create().name(), reply); });
    case A::Request::kTemplateDelete:
      return reply(template_delete(req.template_delete().name()));
    case A::Request::kTemplateList:
      return reply(template_list());
    case A::Request::kSave:
      return with_domain(req.save().domain(), [&](Domain& d) { save_domain(d, req.save(), reply); });
    case A::Request::kRestore:
      return restore_domain(req.restore(), reply);
    case A::Request::kSnapshotCreate:
      return with_domain(req.snapshot_create().domain(), [&](Domain& d) { snapshot_create(d, req.snapshot_create(), reply); });
    case A::Request::kSnapshotList: {
      const Domain* d = find(req.snapshot_list().name_or_id());
      return reply(snapshot_list(d ? d->rec.name() : req.snapshot_list().name_or_id()));
    }
    case A::Request::kMigrate:
      return with_domain(req.migrate().domain(), [&](Domain& d) { migrate(d, req.migrate(), reply); });
    case A::Request::kSnapshotRevert:
      return snapshot_revert(req.snapshot_revert(), reply);
    case A::Request::kSnapshotDelete:
      return reply(snapshot_delete(req.snapshot_delete()));
    case A::Request::kDiskSnapshot:
      return with_domain(req.disk_snapshot().domain(), [&](Domain& d) { disk_snapshot(d, req.disk_snapshot(), reply); });
    case A::Request::kDiskCommit:
      return with_domain(req.disk_commit().domain(), [&](Domain& d) { disk_commit(d, req.disk_commit(), reply); });
    case A::Request::kConsole:  // served by the admin session itself (a byte stream)
    case A::Request::OP_NOT_SET:
    default:  // the admin server routes only domain requests here
      break;
  }
  reply(error_reply(A::ERROR_BAD_REQUEST, "request names no operation this pvd knows"));
}

void DomainManager::create(const A::CreateRequest& c, ReplyFn reply) {
  if (!c.template_name().empty()) return create_from_template(c, reply);
  const std::string path = c.config_path().empty() ? "<config>" : c.config_path();
  auto parsed = parse(c.config_text(), path);
  if (!parsed.config) return reply(error_reply(A::ERROR_BAD_CONFIG, parsed.message));
  launch(*parsed.config, c.config_text(), path, parsed.message, {}, std::move(reply));
}

void DomainManager::launch(const config::DomainConfig& spec, const std::string& config_text, const std::string& path,
                           const std::string& warnings, const Launch& how, ReplyFn reply) {
  if (find(spec.name) || is_domain0(spec.name))
    return reply(error_reply(A::ERROR_EXISTS, "a domain named '" + spec.name + "' already exists"));
  // Host memory is admitted before anything is created.
  try {
    if (auto why = admission_refusal(memory_policy_, spec.name, spec.memory_mib, memory_in_use_mib()))
      return reply(error_reply(A::ERROR_NO_MEMORY, *why));
  } catch (const std::exception& e) {
    return reply(error_reply(A::ERROR_INTERNAL, std::string("cannot tell how much host memory is free: ") + e.what()));
  }
  // Devices are checked before anything is created (the image exists, the
  // bridge is there ...); start() builds their nodes again for real.
  try {
    (void)device_nodes(next_domid(), "", spec, resolve_bridge_);
  } catch (const std::exception& e) {
    return reply(error_reply(A::ERROR_BAD_CONFIG, path + ": " + e.what()));
  }
  // One writer per disk (disk_sharing.h), also before anything exists.
  if (auto why = disk_sharing_conflict(spec.name, spec, disks_in_use(0)); !why.empty())
    return reply(error_reply(A::ERROR_IN_USE, path + ": " + why));
  // Thin provisioning may overcommit the host's file systems: allowed, said.
  std::string told = warnings;
  if (const std::string w = storage_warnings(spec); !w.empty()) told += (told.empty() ? "" : "\n") + w;
  std::string uuid = how.uuid.empty() ? spec.uuid : how.uuid;
  if (uuid.empty()) {
    try {
      uuid = random_uuid();
    } catch (const SystemError& e) {
      return reply(error_reply(A::ERROR_INTERNAL, e.what()));
    }
  }
  uint32_t domid = 0;
  try {
    domid = allocate_domid();
  } catch (const std::exception& e) {
    return reply(error_reply(A::ERROR_INTERNAL, std::string("cannot give the domain an ID: ") + e.what()));
  }
  auto d = std::make_unique<Domain>();
  d->spec = spec;
  d->rec.set_domid(domid);
  d->rec.set_name(d->spec.name);
  d->rec.set_config_text(config_text);
  d->rec.set_config_path(path);
  d->rec.set_created_unix_s(static_cast<uint64_t>(std::time(nullptr)));
  d->rec.set_uuid(uuid);
  d->restore_from = how.restore_from;
  d->rec.MergeFrom(how.carried);  // a restore: pvd's changes the saved domain had
  Domain& ref = *d;
  domains_[domid] = std::move(d);
  try {
    start(ref, [this, domid, reply, told](bool built, const std::string& why) {
      built_or_failed(domid, built, why, told, reply);
    });
  } catch (const std::exception& e) {
    forget(domid);
    return reply(error_reply(A::ERROR_INTERNAL, std::string("cannot start the domain: ") + e.what()));
  }
}

void DomainManager::when_store_ready(uint32_t domid, std::function<void()> then, int tries) {
  if (tries <= 0 || !domains_.contains(domid) || xenstore_.introduced(domid)) return then();
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::milliseconds(10));
  timer->async_wait([this, domid, then = std::move(then), tries, timer](const boost::system::error_code&) mutable {
    when_store_ready(domid, std::move(then), tries - 1);
  });
}

void DomainManager::built_or_failed(uint32_t domid, bool built, const std::string& why, const std::string& warnings,
                                    const ReplyFn& reply) {
  auto it = domains_.find(domid);
  if (built && it != domains_.end()) {
    it->second->building = false;
    // As built: a guest that runs and ends (on_poweroff = destroy) before
    // its store is introduced was created all the same, as xl create says.
    A::Reply as_built;
    *as_built.mutable_domain() = info(*it->second);
    as_built.set_message(warnings);
    return when_store_ready(domid, [this, domid, warnings, reply, as_built] {
      auto d = domains_.find(domid);
      if (d == domains_.end()) return reply(as_built);
      A::Reply r;
      *r.mutable_domain() = info(*d->second);
      r.set_message(warnings);
      reply(r);
    });
  }
  // pv-hv could not build it (a kernel that is not a PVH ELF, a missing
  // ramdisk, no KVM ...): nothing of the domain stays, and create replies
  // only once that is so. pv-hv has logged why and exits right after its
  // report; on_exit() forgets a domain still building and forget() sends
  // the reply.
  A::Reply failed = error_reply(A::ERROR_BAD_CONFIG, "cannot build the domain: " + (built ? "it went away" : why));
  if (it != domains_.end() && it->second->proc) {
    it->second->on_gone.push_back([reply, failed](const A::Reply&) { reply(failed); });
    return;
  }
  if (it != domains_.end()) forget(domid);
  reply(failed);
}


void DomainManager::start(Domain& d, DomainProcess::ReadyFn on_ready) {
  const uint32_t domid = d.rec.domid();
  ::unlink(registry_.status_file(domid).c_str());
  // Every disk and vif is checked before anything starts.
  std::vector<VifAddress> addresses;
  std::vector<NodeWrite> devices = device_nodes(domid, d.rec.uuid(), d.spec, resolve_bridge_, &addresses);
  drop_leases(d);
  for (const auto& a : addresses) {
    try {
      if (add_lease_) add_lease_(a.bridge, a.mac, a.ip);
      d.leases.push_back(a);
    } catch (const std::exception& e) {
      // Not a network pvd serves DHCP on (bridge mode): the guest is
      // configured some other way.
      (void)e;
    }
  }
  // The balloon's keys, in kB as libxl writes them: the ceiling and the
  // target the guest's balloon driver follows. The guest owns memory/ for
  // what it reports; the two are dom0's, readable by it.
  const std::string id = std::to_string(domid), mem_dir = "/local/domain/" + id + "/memory";
  // A domain that ran before (a reboot) starts with the target and ceiling
  // mem-set and mem-max gave it, as libxl rebuilds a rebooted domain from
  // the memory/target and static-max it had.
  const uint64_t maxmem_mib = d.ceiling_mib();
  const uint64_t memory_mib = std::min(d.target_mib(), maxmem_mib);
  d.rec.set_booted_maxmem_mib(maxmem_mib);
  d.reset_balancer();  // it starts at its own target
  devices.push_back({mem_dir, "", {}, true});
  devices.push_back({mem_dir + "/static-max", std::to_string(maxmem_mib * 1024), {"n0", "r" + id}, false});
  devices.push_back({mem_dir + "/target", std::to_string(memory_mib * 1024), {"n0", "r" + id}, false});
  // As libxl: cpu/N/availability for every vCPU the domain has, which the
  // guest follows (Linux's drivers/xen/cpu_hotplug.c).
  const uint32_t max_vcpus = std::max(d.spec.maxvcpus, d.spec.vcpus);
  const uint32_t online = d.rec.vcpus_online() ? d.rec.vcpus_online() : d.spec.vcpus;
  devices.push_back({"/local/domain/" + id + "/cpu", "", {}, true});
  for (uint32_t v = 0; v < max_vcpus; v++)
    devices.push_back({vcpu_availability_path(domid, v), v < online ? "online" : "offline", {"n0", "r" + id}, false});
  std::vector<std::string> argv = {pv_hv_, "--kernel", d.spec.kernel, "--memory", std::to_string(memory_mib) + "M",
                                   "--maxmem", std::to_string(maxmem_mib) + "M",
                                   "--vcpus", std::to_string(d.spec.vcpus),
                                   "--maxvcpus", std::to_string(max_vcpus), "--name", d.spec.name, "--domid",
                                   std::to_string(domid), "--status-file", registry_.status_file(domid),
                                   "--xenstore-socket", registry_.xenstore_link(domid),
                                   "--console-socket", registry_.console_socket(domid),
                                   "--backend-socket", registry_.backend_link(domid),
                                   "--control-socket", registry_.control_socket(domid)};
  if (!d.spec.ramdisk.empty()) argv.insert(argv.end(), {"--initrd", d.spec.ramdisk});
  if (!d.spec.cmdline.empty()) argv.insert(argv.end(), {"--cmdline", d.spec.cmdline});
  if (!d.restore_from.empty()) {
    // pvctl restore: the domain's shape (memory, vCPUs, kernel) is the
    // stream's; only the name, the ID and the sockets are this start's. A
    // later reboot boots the configuration again.
    argv = {pv_hv_, "--restore", std::exchange(d.restore_from, {}), "--name", d.spec.name, "--domid",
            std::to_string(domid), "--status-file", registry_.status_file(domid),
            "--xenstore-socket", registry_.xenstore_link(domid), "--console-socket", registry_.console_socket(domid),
            "--backend-socket", registry_.backend_link(domid), "--control-socket", registry_.control_socket(domid)};
  }
  d.building = static_cast<bool>(on_ready);
  d.proc = DomainProcess::spawn(io_, argv, registry_.console_log(domid), [this, domid] { on_exit(domid); },
                                std::move(on_ready));
  d.rec.set_pid(static_cast<uint32_t>(d.proc->pid()));
  place_in_cgroup(d);
  d.rec.set_state(A::STATE_RUNNING);
  d.rec.clear_shutdown_reason();
  d.recent_starts.push_back(std::chrono::steady_clock::now());
  save(d);
  xenstore_.add_domain(domid, d.spec.name, d.rec.uuid(), registry_.xenstore_link(domid), std::move(devices));
}

void DomainManager::on_exit(uint32_t domid) {
  auto it = domains_.find(domid);
  if (it == domains_.end()) return;
  Domain& d = *it->second;
  d.proc.reset();
  d.kill_timer.reset();
  d.rec.set_pid(0);
  leave_cgroup(domid);
  xenstore_.remove_domain(domid);
  for (auto& w : std::exchange(d.on_shutdown, {})) {
    A::Reply r;
    *r.mutable_domain() = info(d);
    w(r);
  }
  if (d.destroying || d.building) return forget(domid);  // a failed build leaves nothing

  const Ending end = ending_from_status(registry_.read_status(domid));
  if (d.saving_ends_it && end.reason == "suspend") {
    // pvctl save: the domain is in its save file now (domain_save.cpp).
    log::info("domain " + std::to_string(domid) + " (" + d.rec.name() + ") saved and ended");
    return forget(domid);
  }
  Outcome action;
  if (end.reason == "poweroff" || end.reason == "suspend") action = outcome(d.spec.on_poweroff);
  else if (end.reason == "reboot") action = outcome(d.spec.on_reboot);
  else if (end.reason == "soft_reset") action = outcome(d.spec.on_soft_reset);
  else if (end.reason == "watchdog") action = outcome(d.spec.on_watchdog);
  else if (end.reason == "destroyed") action = Outcome::kDestroy;
  else action = outcome(d.spec.on_crash);
  log::info("domain " + std::to_string(domid) + " (" + d.rec.name() + ") ended: " + end.reason);

  if (action == Outcome::kRestart) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(d.recent_starts, [&](auto t) { return now - t > kRestartWindow; });
    if (d.recent_starts.size() >= kMaxRestarts) {
      log::warning("domain " + std::to_string(domid) + " restarted " + std::to_string(kMaxRestarts) +
                   " times within a minute: left crashed");
      d.rec.set_state(A::STATE_CRASHED);
      d.rec.set_shutdown_reason(end.reason + " (restart loop stopped)");
      save(d);
      return;
    }
    d.rec.set_restarts(d.rec.restarts() + 1);
    try {
      start(d);
      return;
    } catch (const std::exception& e) {
      log::error("domain " + std::to_string(domid) + ": restart failed: " + e.what());
      action = Outcome::kPreserve;
    }
  }
  if (action == Outcome::kDestroy) return forget(domid);
  d.rec.set_state(end.crashed ? A::STATE_CRASHED : A::STATE_SHUTDOWN);
  d.rec.set_shutdown_reason(end.reason);
  save(d);
}

void DomainManager::drop_leases(Domain& d) {
  for (const auto& a : std::exchange(d.leases, {})) {
    try {
      if (remove_lease_) remove_lease_(a.bridge, a.mac);
    } catch (const std::exception&) {
    }
  }
}

void DomainManager::forget(uint32_t domid) {
  auto it = domains_.find(domid);
  if (it == domains_.end()) return;
  drop_leases(*it->second);
  auto waiters = std::move(it->second->on_gone);
  A::Reply gone;
  *gone.mutable_domain() = info(*it->second);
  gone.mutable_domain()->set_state(A::STATE_DYING);
  xenstore_.remove_domain(domid);
  registry_.remove(domid, it->second->rec.name());
  domains_.erase(it);
  for (auto& w : waiters) w(gone);
}

void DomainManager::destroy(Domain& d, ReplyFn reply) {
  if (!d.proc) {
    d.on_gone.push_back(std::move(reply));
    return forget(d.rec.domid());
  }
  d.destroying = true;
  d.on_gone.push_back(std::move(reply));
  d.proc->signal(SIGCONT);  // a paused pv-hv must run to exit
  d.proc->signal(SIGTERM);
  d.kill_timer = std::make_unique<boost::asio::steady_timer>(io_, kDestroyGrace);
  const uint32_t domid = d.rec.domid();
  d.kill_timer->async_wait([this, domid](const boost::system::error_code& ec) {
    if (ec) return;
    auto it = domains_.find(domid);
    if (it != domains_.end() && it->second->proc) it->second->proc->signal(SIGKILL);
  });
}

A::Reply DomainManager::pause(Domain& d, bool pause) {
  const auto want_from = pause ? A::STATE_RUNNING : A::STATE_PAUSED;
  if (!d.proc || d.rec.state() != want_from)
    return error_reply(A::ERROR_INVALID_STATE, "domain '" + d.rec.name() + "' is not " +
                                                   (pause ? "running" : "paused"));
  // Stopping pv-hv stops every vCPU thread and its timers: the guest
  // makes no progress until it is continued.
  if (!d.proc->signal(pause ? SIGSTOP : SIGCONT))
    return error_reply(A::ERROR_INTERNAL, "cannot signal pv-hv of domain '" + d.rec.name() + "'");
  d.rec.set_state(pause ? A::STATE_PAUSED : A::STATE_RUNNING);
  save(d);
  A::Reply r;
  *r.mutable_domain() = info(d);
  return r;
}

std::variant<std::string, A::Reply> DomainManager::console_socket(const A::DomainRef& ref) {
  Domain* d = find(ref.name_or_id());
  if (!d) return error_reply(A::ERROR_NO_SUCH_DOMAIN, "no domain named '" + ref.name_or_id() + "'");
  if (!d->proc) return error_reply(A::ERROR_INVALID_STATE, "domain '" + d->rec.name() + "' is not running");
  return registry_.console_socket(d->rec.domid());
}

A::Reply DomainManager::list(bool disks) const {
  A::Reply r;
  auto* l = r.mutable_list();
  *l->add_domains() = domain0_info();  // as xl list: the host first
  for (const auto& [id, d] : domains_) {
    A::DomainInfo* i = l->add_domains();
    *i = info(*d);
    if (disks) fill_disks(*d, *i);
  }
  if (disks)
    for (const StorageUse& s : storage_use(images_in_use(nullptr))) {
      auto* o = l->add_storage();
      o->set_mount(s.mount);
      o->set_images(s.images);
      o->set_virtual_bytes(s.virtual_bytes);
      o->set_allocated_bytes(s.allocated_bytes);
      o->set_growth_bytes(s.growth_bytes);
      o->set_free_bytes(s.free_bytes);
      o->set_overcommitted(s.overcommitted());
      o->set_summary(describe(s));
    }
  return r;
}

std::vector<ImageRef> DomainManager::images_in_use(const config::DomainConfig* also) const {
  std::vector<ImageRef> out;
  auto add = [&](const config::DomainConfig& spec) {
    for (const auto& disk : spec.disks)
      if (disk.devtype == config::DiskDevType::kDisk && !disk.target.empty())
        out.push_back({disk.target, !disk.readonly()});
  };
  for (const auto& [id, d] : domains_) add(d->spec);
  if (also) add(*also);
  return out;
}

std::string DomainManager::storage_warnings(const config::DomainConfig& spec) const {
  std::set<dev_t> mine;  // the file systems holding its disks
  for (const auto& disk : spec.disks) {
    struct stat st{};
    if (disk.devtype == config::DiskDevType::kDisk && ::stat(disk.target.c_str(), &st) == 0) mine.insert(st.st_dev);
  }
  std::string out;
  for (const StorageUse& s : storage_use(images_in_use(&spec))) {
    if (!s.overcommitted() || !mine.contains(s.dev)) continue;
    const std::string line = "warning: disks of '" + spec.name + "': " + describe(s) +
                             "; a guest write that finds it full fails (ENOSPC)";
    log::warning(line);
    out += (out.empty() ? "" : "\n") + line;
  }
  return out;
}

A::Reply DomainManager::mem_set(Domain& d, uint64_t mib) {
  const std::string name = "domain '" + d.rec.name() + "'";
  if (!d.proc) return error_reply(A::ERROR_INVALID_STATE, name + " is not running");
  const uint64_t ceiling = d.ceiling_mib();
  if (mib == 0 || mib > ceiling)
    return error_reply(A::ERROR_BAD_REQUEST, "mem-set " + std::to_string(mib) + " MiB refused: " + name +
                                                 " may have 1 to " + std::to_string(ceiling) +
                                                 " MiB (its maxmem; raise it with mem-max first)");
  const uint64_t old = d.target_mib();
  if (mib > old) {
    try {
      if (auto why = admission_refusal(memory_policy_, d.rec.name(), mib - old, memory_in_use_mib()))
        return error_reply(A::ERROR_NO_MEMORY, "mem-set " + std::to_string(mib) + " MiB refused: " + *why);
    } catch (const std::exception& e) {
      return error_reply(A::ERROR_INTERNAL, std::string("cannot tell how much host memory is free: ") + e.what());
    }
  }
  const std::string path = "/local/domain/" + std::to_string(d.rec.domid()) + "/memory/target";
  if (!xenstore_.write(path, std::to_string(mib * 1024)))
    return error_reply(A::ERROR_INTERNAL, "cannot write " + path);
  d.rec.set_memory_target_mib(mib);
  d.reset_balancer();  // the user's target is the balancer's new ceiling; it asks afresh
  save(d);  // kept: across pvd restarts and the domain's reboots
  A::Reply r;
  *r.mutable_domain() = info(d);
  return r;
}

A::Reply DomainManager::mem_max(Domain& d, uint64_t mib) {
  const std::string name = "domain '" + d.rec.name() + "'";
  if (!d.proc) return error_reply(A::ERROR_INVALID_STATE, name + " is not running");
  const uint64_t booted = d.booted_maxmem_mib();
  if (mib == 0 || mib > booted)
    return error_reply(A::ERROR_BAD_REQUEST, "mem-max " + std::to_string(mib) + " MiB refused: " + name +
                                                 " was booted with maxmem = " + std::to_string(booted) +
                                                 " MiB, and its RAM cannot grow past that (recreate it with a larger maxmem)");
  try {
    const auto r = call_domain_control(registry_.control_socket(d.rec.domid()), ctl::Op::kSetMaxMemory, mib * 256);
    if (r.status != 0) return error_reply(A::ERROR_INTERNAL, "pv-hv refused mem-max: " + std::string(std::strerror(-r.status)));
  } catch (const std::exception& e) {
    return error_reply(A::ERROR_INTERNAL, std::string("mem-max: ") + e.what());
  }
  d.rec.set_memory_max_mib(mib);
  save(d);  // kept, as mem-set's target
  const std::string path = "/local/domain/" + std::to_string(d.rec.domid()) + "/memory/static-max";
  if (!xenstore_.write(path, std::to_string(mib * 1024)))
    return error_reply(A::ERROR_INTERNAL, "the ceiling is set, but " + path + " could not be written");
  A::Reply r;
  *r.mutable_domain() = info(d);
  return r;
}

uint64_t DomainManager::memory_in_use_mib() const {
  uint64_t mib = 0;
  for (const auto& [id, d] : domains_)
    if (d->proc || d->building) mib += d->target_mib();
  return mib;
}

std::vector<AttachedDisk> DomainManager::disks_in_use(uint32_t except) const {
  std::vector<AttachedDisk> out;
  for (const auto& [id, d] : domains_) {
    if (id == except || !d->proc) continue;
    auto disks = attached_disks(id, d->rec.name(), d->spec);
    out.insert(out.end(), disks.begin(), disks.end());
  }
  return out;
}

A::DomainInfo DomainManager::info(const Domain& d) const {
  A::DomainInfo i;
  i.set_domid(d.rec.domid());
  i.set_name(d.rec.name());
  i.set_memory_mib(d.spec.memory_mib);
  i.set_vcpus(d.rec.vcpus_online() ? d.rec.vcpus_online() : d.spec.vcpus);  // online, as xl list
  i.set_state(d.rec.state());
  i.set_cpu_time_s(d.proc ? d.proc->cpu_seconds() : 0);
  i.set_shutdown_reason(d.rec.shutdown_reason());
  i.set_pid(d.rec.pid());
  i.set_kernel(d.spec.kernel);
  i.set_cmdline(d.spec.cmdline);
  i.set_created_unix_s(d.rec.created_unix_s());
  if (d.proc) {
    i.set_target_kib(d.target_mib() * 1024);
    i.set_balancer_target_kib(d.balanced_kib);
    i.set_balancer_uncooperative(d.uncooperative);
    if (const auto m = read_domain_memory(registry_.control_socket(d.rec.domid()), d.proc->pid())) {
      i.set_current_kib(m->current_kib);
      i.set_maximum_kib(m->maximum_kib);
      i.set_ballooned_kib(m->ballooned_kib);
      i.set_resident_kib(m->resident_kib);
      i.set_pv_hv_rss_kib(m->rss_kib);
    }
  }
  return i;
}

// A back-end's state, as pv-backd wrote it; 0 when there is none.
uint32_t DomainManager::backend_state(const char* type, uint32_t domid, uint32_t devid) const {
  const auto v = xenstore_.read("/local/domain/0/backend/" + std::string(type) + "/" + std::to_string(domid) + "/" +
                                std::to_string(devid) + "/state");
  if (!v || v->empty() || v->size() > 2 || v->find_first_not_of("0123456789") != std::string::npos) return 0;
  return static_cast<uint32_t>(std::stoul(*v));
}

void DomainManager::fill_disks(const Domain& d, A::DomainInfo& i) const {
  const uint32_t domid = d.rec.domid();
  for (const auto& disk : d.spec.disks) {
    auto* o = i.add_disks();
    o->set_vdev(disk.vdev);
    o->set_target(disk.target);
    o->set_format(disk.format);
    o->set_access(disk.readonly() ? "ro" : disk.shared_write() ? "w!" : "rw");
    o->set_devtype(disk.devtype == config::DiskDevType::kCdrom ? "cdrom" : "disk");
    const uint32_t devid = config::vdev_to_devid(disk.vdev).value_or(0);
    o->set_devid(devid);
    if (d.proc) o->set_backend_state(backend_state("vbd", domid, devid));
    if (disk.limits.any()) o->set_io_limits(config::to_spec_text(disk.limits));
    std::string why;
    if (const auto u = disk.devtype == config::DiskDevType::kDisk ? image_usage(disk.target, &why) : std::nullopt) {
      o->set_virtual_bytes(u->virtual_bytes);
      o->set_allocated_bytes(u->allocated_bytes);
    } else {
      o->set_image_error(disk.devtype == config::DiskDevType::kDisk ? why : "a CD-ROM drive");
    }
    if (d.proc) {
      const auto s = xenstore_.read("/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(devid) + "/sectors");
      if (s && !s->empty() && s->size() < 20 && s->find_first_not_of("0123456789") == std::string::npos)
        o->set_sectors(std::stoull(*s));
    }
  }
}

A::DomainInfo DomainManager::details(const Domain& d) const {
  A::DomainInfo i = info(d);
  const uint32_t domid = d.rec.domid();
  i.set_uuid(d.rec.uuid());
  i.set_on_poweroff(std::string(config::to_string(d.spec.on_poweroff)));
  i.set_on_reboot(std::string(config::to_string(d.spec.on_reboot)));
  i.set_on_watchdog(std::string(config::to_string(d.spec.on_watchdog)));
  i.set_on_crash(std::string(config::to_string(d.spec.on_crash)));
  i.set_on_soft_reset(std::string(config::to_string(d.spec.on_soft_reset)));
  fill_disks(d, i);
  for (uint32_t n = 0; n < d.spec.vifs.size(); n++) {
    const auto& v = d.spec.vifs[n];
    auto* o = i.add_vifs();
    const uint32_t devid = v.devid.value_or(n);  // as device_nodes() numbers them
    o->set_devid(devid);
    o->set_mac(v.mac ? config::to_string(*v.mac) : default_mac(d.rec.uuid(), devid));
    try {
      o->set_bridge(resolve_bridge_(v.bridge));
    } catch (const std::exception&) {
      o->set_bridge(v.bridge);  // a network destroyed since: as configured
    }
    for (const auto& ip : v.ips) o->add_ips(ip);
    for (const auto& lease : d.leases)
      if (lease.mac == o->mac()) o->set_leased_ip(lease.ip);
    if (lease_lookup_) {
      try {
        o->set_dhcp_address(lease_lookup_(o->bridge(), o->mac()));
      } catch (const std::exception&) {
        // An unreadable leases file: no address to show.
      }
    }
    if (d.proc) o->set_backend_state(backend_state("vif", domid, devid));
  }
  return i;
}

}  // namespace pv::pvd
