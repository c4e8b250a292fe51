// One domain: guest RAM, the KVM VM, its vCPUs, and the Xen-visible state
// the hypercalls act on (shared_info, event channels, grant table, HVM
// parameters, timers, console). pv-hv runs exactly one.
#pragma once
#include <pthread.h>
#include <signal.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <xen/hvm.h>
#include <xen/sched.h>
#include <xen/xen.h>

#include "belink/backend_link.h"
#include "boot/pvh_loader.h"
#include "cpu/cpu_state.h"
#include "console/console_ring.h"
#include "console/serial_port.h"
#include "control/control_server.h"
#include "evtchn/event_channels.h"
#include "gnttab/grant_table.h"
#include "hypercall/hypercall.h"
#include "hypercall/transport.h"
#include "kvm/kvm.h"
#include "memory/guest_memory.h"
#include "memory/reservation.h"
#include "save/suspend_gate.h"
#include "time/domain_timers.h"
#include "time/pvclock.h"
#include "xslink/xenstore_link.h"

namespace pv::save {
class DomainStreamReader;
}

namespace pv {

class Vcpu;

// pv-hv's exit status says how the domain ended (docs/running-a-domain.md).
enum class ExitStatus : int {
  kPoweroff = 0,
  kError = 1,      // pv-hv could not start or run the domain
  kReboot = 2,
  kSuspend = 3,
  kCrash = 4,      // guest crash, triple fault or a fatal KVM exit
  kWatchdog = 5,
  kSoftReset = 6,
  kDestroyed = 7,  // the host asked (SIGTERM / SIGINT)
};
// Wakes the thread in Domain::run() when the domain ends.
inline constexpr int kWakeMainSignal = SIGUSR2;

ExitStatus exit_status_for(uint32_t shutdown_reason);
const char* exit_status_name(ExitStatus s);  // "poweroff", "crash", ...
const char* shutdown_reason_name(uint32_t reason);

// What pv-hv builds and runs: its command line (hv/main.cpp), as pvd passes
// it from a domain's xl.cfg configuration (pv::config::DomainConfig).
struct DomainOptions {
  std::string name = "domain";
  xen::domid_t domid = 1;
  uint64_t memory_bytes = 64ull << 20;  // populated at boot (xl.cfg memory)
  uint64_t maxmem_bytes = 0;             // guest RAM, the ceiling (xl.cfg maxmem); 0: memory_bytes
  // vCPUs online at boot (xl.cfg vcpus) and the vCPUs the domain has
  // (maxvcpus; 0: vcpus). All of them exist from the start; secondary ones
  // are offline until the guest brings them up (VCPUOP_initialise + up),
  // which it does for those the toolstack marks "online" in
  // cpu/N/availability. pv-hv itself needs only the total.
  uint32_t vcpus = 1;
  uint32_t max_vcpus = 0;
  uint32_t vcpu_count() const { return max_vcpus > vcpus ? max_vcpus : vcpus; }
  boot::BootFiles boot;
  TransportChoice transport = TransportChoice::kAuto;
  int console_fd = 1;
  // Where pvd's xenstored reaches this domain's xenstore ring; empty: the
  // ring is advertised but nothing serves it.
  std::string xenstore_socket;
  // Where `pvctl console` (through pvd) attaches; empty: none.
  std::string console_socket;
  // Where the back-end daemon (pv-backd) reaches this domain's RAM, grants
  // and device event channels; empty: no back-end devices.
  std::string backend_socket;
  // Where pvd changes the memory ceiling and reads the reservation; empty: none.
  std::string control_socket;
  // A save stream (docs/save-format.md) read up to its configuration
  // record: the domain is rebuilt from the rest instead of booting `boot`
  // (pv-hv --restore). The options above must be the stream's (name,
  // memory, maxmem, vcpus).
  save::DomainStreamReader* restore = nullptr;
  // The vCPUs wait for ctl::Op::kUnpause before they first run (pv-hv
  // --paused: a migration's target, started when the source says go).
  bool start_paused = false;
};

class Domain {
 public:
  explicit Domain(DomainOptions cfg);
  ~Domain();
  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  // Boots vCPU 0 and waits until the domain shuts down or the host asks it
  // to (SIGTERM/SIGINT). Returns pv-hv's exit status.
  ExitStatus run();

  const DomainOptions& options() const { return cfg_; }
  xen::domid_t domid() const { return cfg_.domid; }
  // DOMID_SELF or this domain's own id: what a guest may name itself by.
  bool is_self(xen::domid_t id) const { return id == xen::DOMID_SELF || id == cfg_.domid; }
  GuestMemory& memory() { return mem_; }
  Reservation& reservation() { return *reservation_; }
  EventChannels& evtchn() { return evtchn_; }
  GrantTable& gnttab() { return gnttab_; }
  kvm::Vm& vm() { return vm_; }
  // ctl::Op::kUnpause: the vCPUs of a domain started paused run. 0, or
  // -EALREADY when they run already.
  int32_t unpause();
  DomainTimers& timers() { return *timers_; }
  const PvClock& clock() const { return *clock_; }
  SerialPort& serial() { return serial_; }
  ConsoleSink& console_out() { return console_out_; }
  HypercallStats& stats() { return stats_; }
  // Save/checkpoint: where the guest's SHUTDOWN_suspend waits (hv/save/).
  SuspendGate& suspend_gate() { return suspend_gate_; }
  // What a save reads besides RAM and the vCPUs (hv/save/domain_writer.cpp).
  uint64_t shared_info_gfn() {
    std::lock_guard lk(physmap_mu_);
    return shared_info_gfn_;
  }
  uint64_t vcpu_info_gfn(uint32_t v) const { return v < vcpu_info_gfn_.size() ? vcpu_info_gfn_[v].load() : ~uint64_t{0}; }
  uint32_t vcpu_info_offset(uint32_t v) {
    std::lock_guard lk(mu_);
    return v < vcpu_info_offset_.size() ? vcpu_info_offset_[v] : 0;
  }
  // Where the guest asked for its hypercall page (port-io: the MSR write
  // pv-hv handles), ~0 when not known.
  uint64_t hypercall_page_gfn() const { return hypercall_page_gfn_.load(std::memory_order_acquire); }
  void set_hypercall_page_gfn(uint64_t gfn) { hypercall_page_gfn_.store(gfn, std::memory_order_release); }
  uint32_t watchdog_timeout(uint32_t i) {
    std::lock_guard lk(mu_);
    return i < watchdog_timeout_.size() ? watchdog_timeout_[i] : 0;
  }
  Transport transport() const { return transport_; }
  // PV_HV_TRACE=1 in the environment: log every hypercall to stderr.
  int trace() const { return trace_; }
  uint32_t nr_vcpus() const { return cfg_.vcpu_count(); }
  Vcpu* vcpu(uint64_t id) { return id < vcpus_.size() ? vcpus_[id].get() : nullptr; }

  // HVM parameters as the guest sees them.
  int64_t get_param(uint32_t index, uint64_t& value);
  int64_t set_param(uint32_t index, uint64_t value);
  uint8_t callback_vector() const { return callback_vector_.load(std::memory_order_relaxed); }

  // XENMEM_add_to_physmap(shared_info / grant_table) and
  // VCPUOP_register_vcpu_info. A Xen page may go to a ballooned-out frame
  // (Linux puts its grant frames there); vcpu_info lives in a populated one.
  int64_t map_shared_info(uint64_t gfn);
  int64_t map_grant_frame(uint32_t idx, uint64_t gfn);
  int64_t register_vcpu_info(uint32_t vcpu, uint64_t gfn, uint32_t offset);
  // A guest frame a guest may place a Xen page at: RAM, not a special page.
  bool is_placeable_gfn(uint64_t gfn) const;
  // Frames the guest may not give back or repopulate: boot data, the ring
  // pages, registered vcpu_info pages (shared_info and grant frames are
  // the Reservation's Xen pages).
  bool is_special_gfn(uint64_t gfn) const;

  // Restore (hv/save/domain_restore.cpp), before any vCPU runs: a Xen page
  // placed again at its saved frame, its content (in the restored RAM)
  // kept; a vCPU's vcpu_info where it was registered, which the guest may
  // register once more (it does after SHUTDOWN_suspend returns 0, as in a
  // new Xen domain); a watchdog armed again with its whole timeout.
  // Throw UserError for a placement this domain refuses.
  void restore_shared_info(uint64_t gfn);
  void restore_shared_info_content(const std::string& page);
  void restore_grant_frame(uint32_t idx, uint64_t gfn);
  void restore_vcpu_info(uint32_t vcpu, uint64_t gfn, uint32_t offset);
  void restore_watchdog(uint32_t i, uint32_t timeout_s);
  bool restored() const { return restored_; }

  // SCHEDOP_watchdog: 0 or a positive watchdog id, or a negative errno.
  int64_t watchdog(uint32_t id, uint32_t timeout_s);

  // Ends the domain; the first caller's reason wins.
  void shutdown(uint32_t reason, const std::string& why);
  void destroy(const std::string& why);  // the host ended it
  void fail(const std::string& why);     // pv-hv itself failed
  bool shutting_down() const { return shutting_down_.load(std::memory_order_acquire); }

  // Event delivery: vCPU `v` has an upcall pending (UINT32_MAX: only wake
  // vCPUs polling ports).
  void kick(uint32_t v);
  void add_poller(int delta) { pollers_ += delta; }
  // A vCPU came up (+1) or went down (-1); with none left up the domain
  // powers off, as Xen does.
  void vcpu_online_changed(int delta);

 private:
  void on_timer(TimerKey key);
  void finish(ExitStatus status, const std::string& message);

  DomainOptions cfg_;
  // Guest RAM and the boot image come first, so a kernel, initrd or
  // command line that cannot boot is refused before /dev/kvm is opened.
  GuestMemory mem_;
  boot::BootInfo boot_;
  kvm::System kvm_;
  kvm::Vm vm_;
  Transport transport_;
  std::unique_ptr<PvClock> clock_;
  EventChannels evtchn_;
  GrantTable gnttab_;
  std::unique_ptr<Reservation> reservation_;  // its bitmap lives in gnttab_'s shared region
  ConsoleSink console_out_;
  SerialPort serial_;
  std::unique_ptr<ConsoleRing> console_;
  SuspendGate suspend_gate_;  // before control_, whose thread waits in it
  std::unique_ptr<XenstoreLink> xenstore_link_;
  std::unique_ptr<BackendLink> backend_link_;
  std::unique_ptr<ControlServer> control_;
  HypercallStats stats_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::unique_ptr<DomainTimers> timers_;

  // shared_info lives here until the guest maps it.
  alignas(4096) std::array<uint8_t, 4096> shared_info_shadow_{};
  std::mutex mu_;  // params, vcpu_info registration, watchdogs
  std::array<uint64_t, xen::hvm::param::NR> params_{};
  std::atomic<uint8_t> callback_vector_{0};
  std::vector<bool> vcpu_info_registered_;
  std::array<std::atomic<uint64_t>, xen::XEN_LEGACY_MAX_VCPUS> vcpu_info_gfn_;  // read without mu_
  std::array<uint32_t, xen::XEN_LEGACY_MAX_VCPUS> vcpu_info_offset_{};
  std::atomic<uint64_t> hypercall_page_gfn_{~uint64_t{0}};
  bool restored_ = false;
  std::mutex physmap_mu_;  // where shared_info and grant frames are
  uint64_t shared_info_gfn_ = ~uint64_t{0};
  std::array<uint32_t, xen::sched::kMaxWatchdogs> watchdog_timeout_{};

  const int trace_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> paused_{false};  // started paused, not unpaused yet
  std::atomic<int> pollers_{0};
  std::atomic<int> vcpus_online_{0};
  std::optional<ExitStatus> exit_status_;
  std::optional<pthread_t> main_thread_;
  CpuState boot_state_;
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
};

}  // namespace pv
