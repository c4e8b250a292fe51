// pvd's domains: creation from a configuration, the pv-hv process of each,
// what happens when one shuts down (xl's on_poweroff / on_reboot /
// on_crash / on_watchdog), and finding them again after a pvd restart.
#pragma once
#include "asio.h"
#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "admin.pb.h"
#include "domain_process.h"
#include "balancer_settings.h"
#include "memory_policy.h"
#include "config/domain_config.h"
#include "cpu_cgroups.h"
#include "device_nodes.h"
#include "disk_sharing.h"
#include "registry.h"
#include "storage_usage.h"
#include "tls_context.h"
#include "xenstore_host.h"

namespace pv::pvd {

class DomainManager {
 public:
  using ReplyFn = std::function<void(admin::Reply)>;

  DomainManager(boost::asio::io_context& io, Registry& registry, XenstoreHost& xenstore, std::string pv_hv_path);

  // Reads the registry and re-attaches to every domain whose pv-hv still
  // runs; domains that ended while pvd was away get their on_* action.
  void reattach();

  // Each request answers through `reply` (now or, for destroy, once the
  // domain is gone).
  void handle(const admin::Request& req, ReplyFn reply);

  size_t size() const { return domains_.size(); }

  // How a vif's bridge= becomes a host bridge (pvd's networks resolve
  // their names); by default the value is used as it is.
  void set_bridge_resolver(std::function<std::string(const std::string&)> fn) { resolve_bridge_ = std::move(fn); }
  // A vif with ip= gets that address from its network's DHCP server:
  // `add(bridge, mac, ip)` while the domain exists, `remove(bridge, mac)`
  // after. Either may throw (a bridge pvd does not serve DHCP on): ignored.
  // Host memory admission (memory_policy.h); the default admits MemTotal
  // less 512 MiB, without overcommit.
  void set_memory_policy(MemoryPolicy p) { memory_policy_ = p; }
  // MiB the running domains hold as their targets.
  uint64_t memory_in_use_mib() const;
  // The automatic memory balancer (domain_balancer.cpp): rounds every
  // `s.interval` on the loop from now on, when `s.on`.
  void start_balancer(const BalancerSettings& s);

  void set_lease_hooks(std::function<void(const std::string&, const std::string&, const std::string&)> add,
                       std::function<void(const std::string&, const std::string&)> remove) {
    add_lease_ = std::move(add);
    remove_lease_ = std::move(remove);
  }

  // The address a network's DHCP server leased to a MAC (bridge, mac), for
  // info's vifs; "" when none.
  void set_lease_lookup(std::function<std::string(const std::string&, const std::string&)> fn) {
    lease_lookup_ = std::move(fn);
  }

  // Where domains' CPU shares are enforced (cpu_cgroups.h); without it
  // domains run with the host's default share and sched-credit changes
  // are refused with `why_not`.
  void set_cpu_cgroups(std::unique_ptr<CpuCgroups> cg, std::string why_not) {
    cpu_ = std::move(cg);
    cpu_why_ = std::move(why_not);
  }

  // Migration (migrate_send.cpp, migrate_receive.cpp): this pvd's TLS
  // identity for pvctl migrate; a domain of that name here; restores a
  // migrated stream as pvctl restore does.
  void set_migrate_tls(MigrateTls tls) { migrate_tls_ = std::move(tls); }
  bool has_domain_named(const std::string& name);
  void receive_migration(const std::string& path, const std::string& name, ReplyFn reply);

  // The console socket of a running domain, or an error reply.
  std::variant<std::string, admin::Reply> console_socket(const admin::DomainRef& ref);

 private:
  struct Domain {
    registry::DomainRecord rec;
    config::DomainConfig spec;
    std::unique_ptr<DomainProcess> proc;
    bool destroying = false;
    bool building = false;             // create is waiting for pv-hv's build report
    std::vector<ReplyFn> on_gone;      // destroy: once it is removed
    std::vector<ReplyFn> on_shutdown;  // shutdown --wait: once its pv-hv exits
    std::unique_ptr<boost::asio::steady_timer> kill_timer;
    std::vector<std::chrono::steady_clock::time_point> recent_starts;
    std::vector<VifAddress> leases;  // fixed DHCP addresses given out for its vifs
    // Memory (MiB): the RAM its pv-hv was built with, the ceiling (mem-max,
    // else that) and the balloon target (mem-set, else memory). mem-set's
    // and mem-max's values live in the record: they outlast pvd and reboots.
    uint64_t booted_maxmem_mib() const {
      return rec.booted_maxmem_mib() ? rec.booted_maxmem_mib() : std::max(spec.maxmem_mib, spec.memory_mib);
    }
    uint64_t ceiling_mib() const { return rec.memory_max_mib() ? rec.memory_max_mib() : booted_maxmem_mib(); }
    uint64_t target_mib() const { return rec.memory_target_mib() ? rec.memory_target_mib() : spec.memory_mib; }
    std::set<std::string> detaching;  // "vbd/51728", "vif/1": a detach waits for the guest
    bool saving = false;              // a save or checkpoint waits for the guest (domain_save.cpp)
    bool saving_ends_it = false;      // a save (not a checkpoint): its end with "suspend" is the save's
    std::string restore_from;         // the next start restores this save file instead of booting
    // The memory balancer (domain_balancer.cpp): the memory/target it asked
    // (0: the domain's own target), whether the domain stopped following,
    // and when it last gave back memory it was asked for.
    uint64_t balanced_kib = 0;
    bool uncooperative = false;
    uint64_t progress_kib = 0;
    std::chrono::steady_clock::time_point progress_at{};
    void reset_balancer() { balanced_kib = 0, uncooperative = false, progress_kib = 0; }
  };

  // How launch() starts a domain: booted from its configuration, or
  // restored from a save file (with the uuid the domain was saved with).
  struct Launch {
    std::string restore_from;
    std::string uuid;
    // A restore: pvd's changes the saved domain had (mem-set, mem-max,
    // vcpu-set, sched-credit), taken into its new record.
    registry::DomainRecord carried;
  };

  // Answers once pv-hv has built the domain, or with pv-hv's reason why
  // it could not (and then nothing of the domain is left).
  void create(const admin::CreateRequest& c, ReplyFn reply);
  // What create and restore share once the configuration is parsed: the
  // name, host memory, devices and disk sharing checked, an ID given, pv-hv
  // started; answers as create.
  void launch(const config::DomainConfig& spec, const std::string& config_text, const std::string& path,
              const std::string& warnings, const Launch& how, ReplyFn reply);
  // pvctl save / restore (domain_save.cpp), as xl save / xl restore.
  void save_domain(Domain& d, const admin::SaveRequest& r, ReplyFn reply);
  void restore_domain(const admin::RestoreRequest& r, ReplyFn reply);
  // Restores the stream at `path` (as `name`, if given), its configuration
  // changed by `edit` first (which returns why it cannot, or "").
  using SpecEdit = std::function<std::string(config::DomainConfig&)>;
  void restore_from_file(const std::string& path, const std::string& name, const SpecEdit& edit, ReplyFn reply);
  // pvctl snapshot-create / -list / -revert / -delete (domain_snapshot.cpp).
  void snapshot_create(Domain& d, const admin::SnapshotRequest& r, ReplyFn reply);
  admin::Reply snapshot_list(const std::string& domain) const;
  void snapshot_revert(const admin::SnapshotRequest& r, ReplyFn reply);
  admin::Reply snapshot_delete(const admin::SnapshotRequest& r);
  // pvctl migrate --offline (migrate_send.cpp), as xl migrate without pre-copy.
  void migrate(Domain& d, const admin::MigrateRequest& r, ReplyFn reply);
  std::string snapshot_dir(const std::string& domain, const std::string& name = "") const;
  admin::Reply list(bool disks) const;
  void destroy(Domain& d, ReplyFn reply);
  admin::Reply pause(Domain& d, bool pause);
  // xl mem-set / mem-max: the balloon target in xenstore, the ceiling in pv-hv.
  admin::Reply mem_set(Domain& d, uint64_t mib);
  admin::Reply mem_max(Domain& d, uint64_t mib);

  // shutdown / reboot (domain_shutdown.cpp): write control/shutdown, then
  // wait for the guest's acknowledgement and, with `wait`, its end.
  struct ShutdownWatch;
  void request_shutdown(Domain& d, const std::string& how, const admin::ShutdownRequest& opts, ReplyFn reply);
  void poll_ack(const std::shared_ptr<ShutdownWatch>& w);
  void acknowledged(const std::shared_ptr<ShutdownWatch>& w, Domain& d);

  // sched-credit (domain_sched.cpp).
  CpuShare cpu_share(const Domain& d) const;
  void place_in_cgroup(Domain& d);
  void leave_cgroup(uint32_t domid);
  admin::Reply sched_credit(const admin::SchedCreditRequest& r);
  admin::Reply vcpu_list(const admin::DomainRef& ref);
  admin::Reply vcpu_pin(const admin::VcpuPinRequest& r);
  // xl vcpu-set: cpu/N/availability for every N < maxvcpus.
  admin::Reply vcpu_set(Domain& d, uint32_t vcpus);
  admin::Reply top();  // domain_stats.cpp

  // The memory balancer's round (domain_balancer.cpp).
  void balancer_round();
  void schedule_balancer();
  // What the policy needs of a running domain; false when it is not to be
  // balanced now (building, saving, pv-hv not answering).
  bool balancer_input(Domain& d, BalancerDomain& in);
  void follow_up(Domain& d, uint64_t current_kib);

  // Hot-plug (domain_devices.cpp), as xl block-attach / -detach / -list
  // and network-attach / -detach / -list, on a running domain.
  struct Detach;
  admin::Reply block_attach(Domain& d, const std::string& spec);
  admin::Reply network_attach(Domain& d, const std::string& spec);
  void detach(Domain& d, const std::string& type, const admin::DeviceDetachRequest& r, ReplyFn reply);
  void poll_detach(const std::shared_ptr<Detach>& w);
  void finish_detach(Domain& d, const Detach& w);
  admin::Reply device_list(const Domain& d, const std::string& type) const;
  admin::DeviceEntry device_entry(const Domain& d, const std::string& type, uint32_t devid) const;
  // The domain's devices changed: kept in its record (and saved).
  void record_devices(Domain& d);
  // A running domain's disks (domain_storage.cpp): I/O limits, online resize.
  config::DiskSpec* running_disk(Domain& d, const std::string& vdev, std::string& why);
  admin::Reply disk_limit(Domain& d, const admin::DiskLimitRequest& r);
  void disk_resize(Domain& d, const admin::DiskResizeRequest& r, ReplyFn reply);
  void disk_snapshot(Domain& d, const admin::DiskSnapshotRequest& r, ReplyFn reply);
  // Live commit and snapshot-delete (domain_commit.cpp).
  void disk_commit(Domain& d, const admin::DiskCommitRequest& r, ReplyFn reply);
  // After a pvd restart: a disk pv-backd switched (a snapshot or commit
  // answered while no pvd waited) becomes the recorded disk, and a commit
  // still under way is waited for again (its end then recorded).
  void adopt_disk_switches(Domain& d);
  // Another domain's disk standing on `image` (its image, or in its chain): "" or which.
  std::string image_used_elsewhere(const Domain& d, const std::string& image) const;
  // A request to pv-backd through a vbd's back-end keys that it answers in
  // <done_key> (= want) or <error_key>; polled until then (or 20 s).
  struct BackendWait {
    boost::asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline;
    std::string what, want, done_key, error_key, vdev, backend;
    uint32_t domid;
    std::function<void(Domain&)> on_done;  // before the reply
    ReplyFn reply;
  };
  void poll_backend(const std::shared_ptr<BackendWait>& w);

  // Templates (templates.cpp).
  std::string template_dir(const std::string& name) const;
  admin::Reply template_list() const;
  admin::Reply template_delete(const std::string& name);
  void template_create(Domain& d, const std::string& name, ReplyFn reply);
  void create_from_template(const admin::CreateRequest& c, ReplyFn reply);

  Domain* find(const std::string& name_or_id);
  // Domain IDs go up, as Xen hands them out, and are reused only once the
  // ID space wraps; the last one given is kept in the state dir, so a
  // restarted pvd does not hand out an ID again either.
  uint32_t next_domid() const;  // throws UserError when every ID is in use
  uint32_t allocate_domid();    // next_domid(), recorded
  void start(Domain& d, DomainProcess::ReadyFn on_ready = {});
  // Calls `then` once the domain's xenstore is introduced (its nodes are
  // there, so a shutdown request right after create reaches the guest), or
  // after 10 s, or at once when the domain is gone.
  void when_store_ready(uint32_t domid, std::function<void()> then, int tries = 1000);
  void built_or_failed(uint32_t domid, bool built, const std::string& why, const std::string& warnings,
                       const ReplyFn& reply);
  void on_exit(uint32_t domid);
  void forget(uint32_t domid);
  admin::DomainInfo info(const Domain& d) const;
  // info() and what `pvctl info` adds: uuid, the on_* actions, each disk
  // and vif with its back-end's state in xenstore.
  admin::DomainInfo details(const Domain& d) const;
  void fill_disks(const Domain& d, admin::DomainInfo& i) const;
  uint32_t backend_state(const char* type, uint32_t domid, uint32_t devid) const;
  // The images of every domain's disks (and of `also`'s), for storage_use().
  std::vector<ImageRef> images_in_use(const config::DomainConfig* also) const;
  // The overcommitted file systems that hold one of `spec`'s disks, one line each.
  std::string storage_warnings(const config::DomainConfig& spec) const;
  // The disks of every domain whose pv-hv runs (or is starting), but
  // `except`: what a new attach must not clash with (disk_sharing.h).
  std::vector<AttachedDisk> disks_in_use(uint32_t except) const;
  void save(const Domain& d) const { registry_.save(d.rec); }

  boost::asio::io_context& io_;
  Registry& registry_;
  XenstoreHost& xenstore_;
  std::string pv_hv_;
  MemoryPolicy memory_policy_;
  BalancerSettings balancer_;
  std::unique_ptr<boost::asio::steady_timer> balancer_timer_;
  std::string balancer_failure_;  // the last reason a round could not run (logged once)
  std::map<uint32_t, std::unique_ptr<Domain>> domains_;
  uint32_t last_domid_ = 0;
  std::function<std::string(const std::string&)> resolve_bridge_ = [](const std::string& b) { return b; };
  std::function<void(const std::string&, const std::string&, const std::string&)> add_lease_;
  std::function<void(const std::string&, const std::string&)> remove_lease_;
  void drop_leases(Domain& d);
  std::function<std::string(const std::string&, const std::string&)> lease_lookup_;
  std::unique_ptr<CpuCgroups> cpu_;
  MigrateTls migrate_tls_;
  std::string cpu_why_ = "no cgroup hierarchy was set up for pvd";
};

admin::Reply error_reply(admin::ErrorCode code, const std::string& message);

}  // namespace pv::pvd
