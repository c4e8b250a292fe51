#include "domain.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <xen/cpuid.h>

#include "boot/layout.h"
#include "cpu/cpuid.h"
#include "cpu/vcpu.h"
#include "pv/error.h"
#include "pv/log.h"
#include "save/domain_restore.h"
#include "save/save_control.h"

namespace pv {
namespace P = xen::hvm::param;

ExitStatus exit_status_for(uint32_t reason) {
  switch (reason) {
    case xen::shutdown::poweroff: return ExitStatus::kPoweroff;
    case xen::shutdown::reboot: return ExitStatus::kReboot;
    case xen::shutdown::suspend: return ExitStatus::kSuspend;
    case xen::shutdown::watchdog: return ExitStatus::kWatchdog;
    case xen::shutdown::soft_reset: return ExitStatus::kSoftReset;
    default: return ExitStatus::kCrash;
  }
}

const char* exit_status_name(ExitStatus s) {
  switch (s) {
    case ExitStatus::kPoweroff: return "poweroff";
    case ExitStatus::kError: return "error";
    case ExitStatus::kReboot: return "reboot";
    case ExitStatus::kSuspend: return "suspend";
    case ExitStatus::kCrash: return "crash";
    case ExitStatus::kWatchdog: return "watchdog";
    case ExitStatus::kSoftReset: return "soft_reset";
    case ExitStatus::kDestroyed: return "destroyed";
  }
  return "unknown";
}

const char* shutdown_reason_name(uint32_t reason) {
  static const char* names[] = {"poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"};
  return reason <= xen::shutdown::max ? names[reason] : "unknown";
}

Domain::Domain(DomainOptions cfg)
    : cfg_(std::move(cfg)),
      mem_(std::max(cfg_.maxmem_bytes, cfg_.memory_bytes)),
      // A restored domain's RAM comes from its stream, not from a kernel.
      boot_(cfg_.restore ? boot::BootInfo{} : boot::load_pvh(mem_, cfg_.boot, cfg_.memory_bytes)),
      vm_(kvm_),
      transport_(select_transport(kvm_, cfg_.transport)),
      evtchn_(cfg_.domid, cfg_.vcpu_count(), [this](uint32_t v) { kick(v); }),
      gnttab_(mem_),
      reservation_(std::make_unique<Reservation>(mem_, gnttab_.absent_bitmap(),
                                                 boot::boot_ballooned_first_gfn(cfg_.memory_bytes),
                                                 boot::special_base_gfn(mem_.size()),
                                                 [this](uint64_t gfn) { return is_special_gfn(gfn); })),
      console_out_(cfg_.console_fd),
      serial_(console_out_),
      vcpu_info_registered_(cfg_.vcpu_count(), false),
      trace_(std::getenv("PV_HV_TRACE") ? std::atoi(std::getenv("PV_HV_TRACE")) : 0) {
  if (trace_) log::set_level(log::Level::kDebug);  // trace lines are debug lines
  for (auto& g : vcpu_info_gfn_) g.store(~uint64_t{0});
  if (cfg_.vcpu_count() == 0 || cfg_.vcpu_count() > static_cast<uint32_t>(kvm_.check(KVM_CAP_MAX_VCPUS)))
    throw UserError("--vcpus/--maxvcpus must be between 1 and " + std::to_string(kvm_.check(KVM_CAP_MAX_VCPUS)));
  if (cfg_.vcpu_count() > xen::XEN_LEGACY_MAX_VCPUS)
    throw UserError("--vcpus/--maxvcpus: at most " + std::to_string(xen::XEN_LEGACY_MAX_VCPUS) + " vCPUs are supported");

  vm_.set_memory(0, 0, mem_.size(), mem_.base());
  mem_.set_written_bitmap(gnttab_.written_bitmap());
  configure_transport(vm_, transport_);

  // shared_info exists from the start (in a host page) so events raised
  // before the guest maps it are kept, as on Xen.
  evtchn_.set_shared_info(reinterpret_cast<xen::shared_info*>(shared_info_shadow_.data()));
  for (uint32_t v = 0; v < cfg_.vcpu_count(); v++)
    evtchn_.set_vcpu_info(v, &evtchn_.shared_info()->vcpu_info[v]);

  // Console and xenstore rings: special pages bound to dom0 event channels.
  const uint64_t console_gfn = boot::special_gfn(mem_.size(), boot::kConsolePage);
  const uint64_t store_gfn = boot::special_gfn(mem_.size(), boot::kXenstorePage);
  console_ = std::make_unique<ConsoleRing>(mem_, console_gfn, console_out_);
  const auto console_port = evtchn_.connect_host([this] { console_->on_guest_notify(); });
  console_->set_notify([this, console_port] { evtchn_.raise(console_port); });
  if (!cfg_.console_socket.empty())
    console_out_.serve(cfg_.console_socket, [this](std::string_view in) { console_->push_input(in); });
  std::memset(mem_.page(store_gfn), 0, xen::kPageSize);
  // The xenstore server is pvd's xenstored, reached through the link; with
  // no link, requests stay on the ring unanswered.
  const auto store_port = evtchn_.connect_host([this] {
    if (xenstore_link_) xenstore_link_->guest_kicked();
  });
  if (!cfg_.xenstore_socket.empty()) {
    const xslink::LinkHello hello{xslink::kMagic, xslink::kVersion, cfg_.domid, store_port, store_gfn, mem_.size()};
    xenstore_link_ = std::make_unique<XenstoreLink>(cfg_.xenstore_socket, mem_.fd(), hello,
                                                    [this, store_port] { evtchn_.raise(store_port); });
  }
  if (!cfg_.backend_socket.empty())
    backend_link_ = std::make_unique<BackendLink>(cfg_.backend_socket, cfg_.domid, mem_, gnttab_, evtchn_);
  params_[P::CONSOLE_PFN] = console_gfn;
  params_[P::CONSOLE_EVTCHN] = console_port;
  params_[P::STORE_PFN] = store_gfn;
  params_[P::STORE_EVTCHN] = store_port;
  params_[P::PAE_ENABLED] = 1;

  // A restore reads the whole stream into RAM now (it is checked as it is
  // read), and goes on from the guest time it was saved at.
  std::optional<SavedDomain> saved;
  if (cfg_.restore) saved = read_saved_domain(*cfg_.restore, mem_);

  const auto supported = kvm_.supported_cpuid();
  for (uint32_t v = 0; v < cfg_.vcpu_count(); v++) {
    auto fd = vm_.create_vcpu(v);
    fd.set_cpuid(domain_cpuid(supported, v, cfg_.domid));
    if (v == 0) clock_ = std::make_unique<PvClock>(fd.tsc_khz(), saved ? saved->state.time.system_time_ns() : 0);
    vcpus_.push_back(std::make_unique<Vcpu>(*this, v, std::move(fd)));
  }
  timers_ = std::make_unique<DomainTimers>(*clock_, [this](TimerKey k) { on_timer(k); });
  if (saved) {
    apply_saved_domain(*this, *saved);
    restored_ = true;
  } else {
    boot_state_ = pvh_entry_state(vcpus_[0]->fd().sregs(), boot_.entry, static_cast<uint32_t>(boot_.start_info_gpa));
  }
  // Last: its thread reads the vCPUs.
  if (!cfg_.control_socket.empty())
    control_ = std::make_unique<ControlServer>(
        cfg_.control_socket, *reservation_, cfg_.vcpu_count(),
        [this] {
          uint64_t up = 0;
          for (const auto& v : vcpus_)
            if (v->is_up()) up |= uint64_t{1} << v->id();
          return up;
        },
        [this](const ctl::Request& req, std::vector<UniqueFd>& fds, ControlServer::SaveRequester& requester) {
          return handle_save_op(*this, req, fds, requester);
        });
}

Domain::~Domain() {
  control_.reset();  // its thread reads vcpus_, which go before it
  // The sink's thread feeds input to console_, which goes before it.
  console_out_.stop();
  destroy("pv-hv exiting");
  if (timers_) timers_->stop();
  for (auto& v : vcpus_) v->join();
}

ExitStatus Domain::run() {
  main_thread_ = pthread_self();
  // A restored vCPU runs as it was saved (Domain's constructor set it up).
  paused_.store(cfg_.start_paused);
  for (uint32_t v = 0; v < cfg_.vcpu_count(); v++) {
    if (cfg_.start_paused) vcpus_[v]->hold_at_start();
    vcpus_[v]->start(v == 0 && !restored_ ? std::optional<CpuState>(boot_state_) : std::nullopt);
  }
  if (cfg_.start_paused) log::info("domain " + cfg_.name + ": built paused; its vCPUs wait to be unpaused");
  // Wait for the end, or for the host to ask for it.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kWakeMainSignal);
  while (!shutting_down()) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGINT || sig == SIGTERM) destroy(std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
  }
  timers_->stop();
  for (auto& v : vcpus_) v->join();
  std::lock_guard lk(exit_mu_);
  return exit_status_.value_or(ExitStatus::kError);
}

int32_t Domain::unpause() {
  if (!paused_.exchange(false)) return -EALREADY;
  for (auto& v : vcpus_) v->unpark();
  log::info("domain " + cfg_.name + ": unpaused");
  return 0;
}

void Domain::finish(ExitStatus status, const std::string& message) {
  {
    std::lock_guard lk(exit_mu_);
    if (exit_status_) return;
    exit_status_ = status;
  }
  pv::log::info("domain " + cfg_.name + ": " + message);
  shutting_down_.store(true, std::memory_order_release);
  suspend_gate_.abort();  // a vCPU held by a save returns; a waiting save gives up
  for (auto& v : vcpus_) v->kick();
  if (main_thread_) pthread_kill(*main_thread_, kWakeMainSignal);
}

void Domain::shutdown(uint32_t reason, const std::string& why) {
  finish(exit_status_for(reason), std::string("shut down (") + shutdown_reason_name(reason) + ")" +
                                      (why.empty() ? "" : ": " + why));
}

void Domain::destroy(const std::string& why) { finish(ExitStatus::kDestroyed, "destroyed: " + why); }

void Domain::fail(const std::string& why) { finish(ExitStatus::kError, "failed: " + why); }

void Domain::kick(uint32_t v) {
  if (v < vcpus_.size()) vcpus_[v]->kick();
  if (pollers_.load() > 0)
    for (auto& vc : vcpus_)
      if (vc->polling()) vc->wake();
}

void Domain::vcpu_online_changed(int delta) {
  if ((vcpus_online_ += delta) == 0) shutdown(xen::shutdown::poweroff, "every vCPU is down");
}

bool Domain::is_placeable_gfn(uint64_t gfn) const { return gfn < boot::special_base_gfn(mem_.size()); }

bool Domain::is_special_gfn(uint64_t gfn) const {
  if (gfn < (boot::kBootDataEnd >> 12) || gfn >= boot::special_base_gfn(mem_.size())) return true;
  for (const auto& g : vcpu_info_gfn_)
    if (g.load(std::memory_order_acquire) == gfn) return true;
  return false;
}

int64_t Domain::get_param(uint32_t index, uint64_t& value) {
  if (index >= P::NR) return -xen::XEN_EINVAL;
  std::lock_guard lk(mu_);
  value = params_[index];
  return 0;
}

int64_t Domain::set_param(uint32_t index, uint64_t value) {
  if (index >= P::NR) return -xen::XEN_EINVAL;
  if (index != P::CALLBACK_IRQ) return -xen::XEN_EPERM;  // the rest are the toolstack's
  const uint64_t type = value >> xen::hvm::kCallbackTypeShift;
  const uint64_t vector = value & xen::hvm::kCallbackVectorMask;
  if (value != 0 && (type != xen::hvm::CALLBACK_TYPE_VECTOR || vector < 0x20 ||
                     (value & ~((0xffull << xen::hvm::kCallbackTypeShift) | xen::hvm::kCallbackVectorMask))))
    return -xen::XEN_EINVAL;  // only vector delivery exists: there is no virtual IOAPIC or PCI
  {
    std::lock_guard lk(mu_);
    params_[index] = value;
  }
  callback_vector_.store(value ? static_cast<uint8_t>(vector) : 0);
  for (auto& v : vcpus_) v->kick();  // deliver anything already pending
  return 0;
}

int64_t Domain::map_shared_info(uint64_t gfn) {
  if (!is_placeable_gfn(gfn)) return -xen::XEN_EINVAL;
  auto* to = reinterpret_cast<xen::shared_info*>(mem_.page(gfn));
  std::lock_guard placing(physmap_mu_);
  {
    std::lock_guard lk(mu_);
    evtchn_.move_shared_info(to);
    clock_->publish_wallclock(to);
    for (uint32_t v = 0; v < cfg_.vcpu_count() && v < xen::XEN_LEGACY_MAX_VCPUS; v++)
      if (!vcpu_info_registered_[v]) clock_->publish(&to->vcpu_info[v].time);
  }
  if (shared_info_gfn_ != gfn) {
    reservation_->xen_page_placed(gfn);
    if (shared_info_gfn_ != ~uint64_t{0}) reservation_->xen_page_removed(shared_info_gfn_);
    shared_info_gfn_ = gfn;
  }
  return 0;
}

int64_t Domain::map_grant_frame(uint32_t idx, uint64_t gfn) {
  if (!is_placeable_gfn(gfn)) return -xen::XEN_EINVAL;
  std::lock_guard placing(physmap_mu_);
  const uint64_t old = gnttab_.frame_gfn(idx);
  const int64_t rc = gnttab_.map_frame(idx, gfn);
  if (rc == 0 && old != gfn) {
    reservation_->xen_page_placed(gfn);
    if (old != GrantTable::kInvalidGfn) reservation_->xen_page_removed(old);
  }
  return rc;
}

int64_t Domain::register_vcpu_info(uint32_t vcpu, uint64_t gfn, uint32_t offset) {
  if (vcpu >= cfg_.vcpu_count()) return -xen::XEN_ENOENT;
  if (offset > xen::kPageSize - sizeof(xen::vcpu_info) || (offset & 7) || !is_placeable_gfn(gfn) ||
      !reservation_->populated(gfn))
    return -xen::XEN_EINVAL;  // vcpu_info lives in the guest's own memory
  std::lock_guard lk(mu_);
  if (vcpu_info_registered_[vcpu]) return -xen::XEN_EINVAL;  // once per vCPU, as Xen
  if (vcpu < vcpu_info_gfn_.size()) {
    vcpu_info_gfn_[vcpu].store(gfn, std::memory_order_release);
    vcpu_info_offset_[vcpu] = offset;
  }
  auto* to = reinterpret_cast<xen::vcpu_info*>(mem_.page(gfn) + offset);
  evtchn_.move_vcpu_info(vcpu, to);
  vcpu_info_registered_[vcpu] = true;
  clock_->publish(&to->time);
  return 0;
}

void Domain::restore_shared_info_content(const std::string& page) {
  if (page.size() == shared_info_shadow_.size()) std::memcpy(shared_info_shadow_.data(), page.data(), page.size());
}

void Domain::restore_shared_info(uint64_t gfn) {
  const uint8_t* saved = mem_.page(gfn);
  if (!is_placeable_gfn(gfn) || !saved)
    throw UserError("shared_info at frame " + std::to_string(gfn) + " is not a frame a guest may place it at");
  // Moving shared_info copies the current page over the new one: make the
  // current one the saved content first.
  std::memcpy(shared_info_shadow_.data(), saved, shared_info_shadow_.size());
  if (const int64_t rc = map_shared_info(gfn); rc != 0)
    throw UserError("shared_info at frame " + std::to_string(gfn) + " refused (" + std::to_string(rc) + ")");
}

void Domain::restore_grant_frame(uint32_t idx, uint64_t gfn) {
  uint8_t* page = mem_.page(gfn);
  if (!page) throw UserError("grant frame " + std::to_string(idx) + " is outside guest RAM");
  std::array<uint8_t, xen::kPageSize> entries;
  std::memcpy(entries.data(), page, entries.size());  // a new frame starts empty: keep the saved entries
  if (const int64_t rc = map_grant_frame(idx, gfn); rc != 0)
    throw UserError("grant frame " + std::to_string(idx) + " at frame " + std::to_string(gfn) + " refused (" +
                    std::to_string(rc) + ")");
  std::memcpy(page, entries.data(), entries.size());
}

void Domain::restore_vcpu_info(uint32_t vcpu, uint64_t gfn, uint32_t offset) {
  if (vcpu >= cfg_.vcpus || vcpu >= vcpu_info_gfn_.size() || offset > xen::kPageSize - sizeof(xen::vcpu_info) ||
      (offset & 7) || !is_placeable_gfn(gfn) || !reservation_->populated(gfn))
    throw UserError("vcpu" + std::to_string(vcpu) + "'s vcpu_info at frame " + std::to_string(gfn) + " offset " +
                    std::to_string(offset) + " is not in the guest's own memory");
  auto* to = reinterpret_cast<xen::vcpu_info*>(mem_.page(gfn) + offset);
  const xen::vcpu_info saved = *to;  // moving copies the current vcpu_info over it
  std::lock_guard lk(mu_);
  vcpu_info_gfn_[vcpu].store(gfn, std::memory_order_release);
  vcpu_info_offset_[vcpu] = offset;
  evtchn_.move_vcpu_info(vcpu, to);
  *to = saved;
  clock_->publish(&to->time);  // this pv-hv's clock, going on from the saved time
}

void Domain::restore_watchdog(uint32_t i, uint32_t timeout_s) {
  if (i >= watchdog_timeout_.size() || timeout_s == 0) return;
  std::lock_guard lk(mu_);
  watchdog_timeout_[i] = timeout_s;
  timers_->arm({TimerKey::kWatchdog, i}, clock_->now_ns() + uint64_t{timeout_s} * 1'000'000'000);
}

int64_t Domain::watchdog(uint32_t id, uint32_t timeout_s) {
  std::lock_guard lk(mu_);
  if (id == 0) {
    if (timeout_s == 0) return -xen::XEN_EINVAL;
    for (uint32_t i = 0; i < watchdog_timeout_.size(); i++) {
      if (watchdog_timeout_[i] == 0) {
        watchdog_timeout_[i] = timeout_s;
        timers_->arm({TimerKey::kWatchdog, i}, clock_->now_ns() + uint64_t{timeout_s} * 1'000'000'000);
        return i + 1;
      }
    }
    return -xen::XEN_EBUSY;
  }
  if (id > watchdog_timeout_.size() || watchdog_timeout_[id - 1] == 0) return -xen::XEN_EINVAL;
  if (timeout_s == 0) {
    watchdog_timeout_[id - 1] = 0;
    timers_->cancel({TimerKey::kWatchdog, id - 1});
  } else {
    watchdog_timeout_[id - 1] = timeout_s;
    timers_->arm({TimerKey::kWatchdog, id - 1}, clock_->now_ns() + uint64_t{timeout_s} * 1'000'000'000);
  }
  return 0;
}

void Domain::on_timer(TimerKey key) {
  switch (key.kind) {
    case TimerKey::kSingleShot:
    case TimerKey::kPeriodic:
      if (!evtchn_.raise_virq(xen::virq::TIMER, key.id) && trace_)
        pv::log::debug("vcpu" + std::to_string(key.id) + ": timer fired but VIRQ_TIMER is not bound");
      else if (trace_)
        pv::log::debug("vcpu" + std::to_string(key.id) + ": timer fired");
      break;
    case TimerKey::kWatchdog:
      shutdown(xen::shutdown::watchdog, "watchdog " + std::to_string(key.id + 1) + " expired");
      break;
  }
}

}  // namespace pv
