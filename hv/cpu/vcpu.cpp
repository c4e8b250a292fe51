#include "cpu/vcpu.h"

#include <signal.h>

#include <cinttypes>
#include <utility>
#include <cstdio>
#include <sched.h>
#include <unistd.h>

#include <xen/cpuid.h>

#include "domain.h"
#include "hypercall/hypercall.h"
#include "hypercall/transport.h"
#include "pv/error.h"
#include "pv/log.h"

namespace pv {
namespace {
constexpr uint64_t kEferLma = 1 << 10;
constexpr uint64_t kLapicBase = 0xfee00000, kLapicSize = 0x1000;
}  // namespace

// Signal used to force a vCPU out of KVM_RUN. Blocked everywhere except
// inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it never interrupts host code.
extern const int kKickSignal;
const int kKickSignal = SIGUSR1;

Vcpu::Vcpu(Domain& dom, uint32_t id, kvm::VcpuFd fd)
    : dom_(dom), id_(id), fd_(std::move(fd)),
      runstate_(dom.memory(), dom.reservation(), id == 0 ? xen::RUNSTATE_running : xen::RUNSTATE_offline) {}

Vcpu::~Vcpu() { join(); }

void Vcpu::start(std::optional<CpuState> boot) {
  if (boot) {
    std::lock_guard lk(mu_);
    pending_state_ = boot;
    initialised_ = up_ = true;
    dom_.vcpu_online_changed(+1);
  }
  thread_ = std::thread([this] {
    char name[16];
    std::snprintf(name, sizeof(name), "vcpu%u", id_);
    pthread_setname_np(pthread_self(), name);
    tid_ = pthread_self();
    runstate_.attach_thread(static_cast<pid_t>(::gettid()));
    try {
      sigset_t mask;
      pthread_sigmask(SIG_SETMASK, nullptr, &mask);
      sigdelset(&mask, kKickSignal);
      fd_.set_signal_mask(mask);
      fd_.run()->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
      run_loop();
    } catch (const std::exception& e) {
      pv::log::error("vcpu" + std::to_string(id_) + ": " + e.what());
      dom_.fail(std::string("vcpu") + std::to_string(id_) + ": " + e.what());
    }
  });
}

void Vcpu::restore_run_state(bool initialised, bool up) {
  {
    std::lock_guard lk(mu_);
    pending_state_.reset();
    initialised_ = initialised || up;
    up_ = up;
  }
  if (up) dom_.vcpu_online_changed(+1);
}

void Vcpu::join() {
  if (thread_.joinable()) thread_.join();
}

void Vcpu::kick() {
  {
    std::lock_guard lk(mu_);
    wake_seq_++;
  }
  cv_.notify_all();
  if (in_guest_.load(std::memory_order_seq_cst) && !pthread_equal(pthread_self(), tid_)) pthread_kill(tid_, kKickSignal);
}

void Vcpu::wake() {
  {
    std::lock_guard lk(mu_);
    wake_seq_++;
  }
  cv_.notify_all();
}

int64_t Vcpu::initialise(const xen::hvm::vcpu_hvm_context& ctx) {
  std::string why;
  // The target is not running (it is not initialised), so its sregs are stable.
  {
    std::lock_guard lk(mu_);
    if (initialised_) return -xen::XEN_EEXIST;
  }
  auto st = hvm_context_state(fd_.sregs(), ctx, dom_.memory().size(), why);
  if (!st) return -xen::XEN_EINVAL;
  std::lock_guard lk(mu_);
  if (initialised_) return -xen::XEN_EEXIST;
  pending_state_ = st;
  initialised_ = true;
  return 0;
}

int64_t Vcpu::up() {
  bool was_up;
  {
    std::lock_guard lk(mu_);
    if (!initialised_) return -xen::XEN_EINVAL;
    was_up = std::exchange(up_, true);
  }
  if (!was_up) dom_.vcpu_online_changed(+1);
  cv_.notify_all();
  return 0;
}

int64_t Vcpu::down() {
  bool was_up;
  {
    std::lock_guard lk(mu_);
    was_up = std::exchange(up_, false);
  }
  kick();  // leaves KVM_RUN or a wait, then parks
  // Last one out: the domain powers off, as on Xen.
  if (was_up) dom_.vcpu_online_changed(-1);
  return 0;
}

void Vcpu::request_park() {
  {
    std::lock_guard lk(mu_);
    park_requested_.store(true, std::memory_order_seq_cst);
  }
  kick();
}

bool Vcpu::await_parked(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lk(mu_);
  return cv_.wait_until(lk, deadline, [&] { return parked_ || dom_.shutting_down(); }) && parked_;
}

void Vcpu::unpark() {
  {
    std::lock_guard lk(mu_);
    park_requested_.store(false, std::memory_order_seq_cst);
  }
  cv_.notify_all();
}

// KVM finishes an exit (the hypercall's result into rax and rip past the
// instruction, an I/O read's data, sync regs we dirtied) only on the next
// KVM_RUN; re-entering with a signal pending completes it and returns EINTR
// before the guest runs (KVM's api.rst, "KVM_RUN": the documented way to
// make the state consistent before it is saved).
void Vcpu::complete_pending_exit() {
  for (int tries = 0; tries < 4; tries++) {
    pthread_kill(pthread_self(), kKickSignal);  // blocked here, pending inside KVM_RUN
    const bool exited = fd_.enter();
    fd_.run()->kvm_dirty_regs = 0;
    drain_kicks();
    if (!exited) return;
    handle_exit();  // an exit KVM had queued before it saw the signal
  }
  throw std::runtime_error("KVM kept running the guest with a kick pending; the vCPU cannot be paused for a save");
}

void Vcpu::park_if_requested() {
  std::unique_lock lk(mu_);
  if (!park_requested_ || dom_.shutting_down()) return;
  lk.unlock();
  if (entered_) complete_pending_exit();
  lk.lock();
  const bool was_up = up_;
  if (was_up) runstate_.change(xen::RUNSTATE_offline, dom_.clock().now_ns());  // paused by the system, as Xen counts it
  parked_ = true;
  cv_.notify_all();
  cv_.wait(lk, [&] { return !park_requested_ || dom_.shutting_down(); });
  parked_ = false;
  if (was_up) runstate_.change(xen::RUNSTATE_running, dom_.clock().now_ns());
}

bool Vcpu::is_up() const {
  std::lock_guard lk(mu_);
  return up_;
}

bool Vcpu::upcall_pending() const {
  const xen::vcpu_info* vi = dom_.evtchn().vcpu_info(id_);
  return vi && __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0;
}

template <typename Pred>
void Vcpu::wait(Pred pred, std::optional<std::chrono::steady_clock::time_point> deadline) {
  std::unique_lock lk(mu_);
  bool blocked = false;
  while (!pred() && !dom_.shutting_down() && up_ && !park_requested_) {
    if (!blocked) runstate_.change(xen::RUNSTATE_blocked, dom_.clock().now_ns()), blocked = true;
    if (!deadline) {
      cv_.wait(lk);
    } else if (cv_.wait_until(lk, *deadline) == std::cv_status::timeout) {
      break;
    }
  }
  if (blocked) runstate_.change(xen::RUNSTATE_running, dom_.clock().now_ns());
}

void Vcpu::block_until_event() {
  wait([this] { return upcall_pending(); }, std::nullopt);
}

void Vcpu::poll(const uint32_t* ports, uint32_t n, uint64_t deadline_ns) {
  auto any_pending = [&] {
    for (uint32_t i = 0; i < n; i++)
      if (dom_.evtchn().is_pending(ports[i])) return true;
    return false;
  };
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (deadline_ns)
    deadline = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(dom_.clock().host_monotonic_at(deadline_ns)));
  polling_.store(true);
  dom_.add_poller(1);
  wait(any_pending, deadline);
  dom_.add_poller(-1);
  polling_.store(false);
}

Vcpu::Next Vcpu::wait_until_running() {
  std::unique_lock lk(mu_);
  if (!up_) runstate_.change(xen::RUNSTATE_offline, dom_.clock().now_ns());
  cv_.wait(lk, [&] { return up_ || dom_.shutting_down() || park_requested_; });
  if (dom_.shutting_down()) return Next::kEnd;
  if (park_requested_) return Next::kPark;
  if (pending_state_) {
    CpuState st = *pending_state_;
    pending_state_.reset();
    lk.unlock();
    fd_.set_sregs(st.sregs);
    fd_.set_regs(st.regs);
    fd_.run()->kvm_dirty_regs = 0;
  }
  return Next::kRun;
}

// Level-triggered like Xen's callback vector: while evtchn_upcall_pending is
// set, the vector is kept queued in KVM. KVM delivers a queued vector as
// soon as the guest can take it (after its next sti, say), so no
// interrupt-window exit is needed; the PVM-based KVM here never produces
// one (see docs/architecture.md). EEXIST means one is still queued.
void Vcpu::prepare_injection() {
  uint8_t vector = upcall_vector_.load(std::memory_order_relaxed);
  if (!vector) vector = dom_.callback_vector();
  if (!vector || !upcall_pending()) return;
  if (dom_.trace()) {
    char line[64];
    std::snprintf(line, sizeof line, "vcpu%u: inject vector %#x (if=%d)", id_, vector, fd_.run()->if_flag);
    pv::log::debug(line);
  }
  try {
    fd_.inject_interrupt(vector);
  } catch (const SystemError& e) {
    if (e.code() != EEXIST) throw;
  }
}

// A kick interrupts KVM_RUN but stays pending once KVM restores our signal
// mask (it is blocked outside KVM_RUN); consume it or every later KVM_RUN
// would return EINTR at once.
void Vcpu::drain_kicks() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kKickSignal);
  timespec zero{};
  while (sigtimedwait(&set, nullptr, &zero) > 0) {
  }
}

void Vcpu::run_loop() {
  while (!dom_.shutting_down()) {
    park_if_requested();
    const Next next = wait_until_running();
    if (next == Next::kEnd) return;
    if (next == Next::kPark) continue;
    runstate_.change(xen::RUNSTATE_running, dom_.clock().now_ns());
    in_guest_.store(true, std::memory_order_seq_cst);
    if (park_requested_.load(std::memory_order_seq_cst)) {  // asked to park: not into the guest
      in_guest_.store(false, std::memory_order_seq_cst);
      continue;
    }
    entered_ = true;
    // Checked after publishing in_guest_: an event raised from now on
    // signals us out of KVM_RUN instead of being missed.
    prepare_injection();
    const bool exited = fd_.enter();
    in_guest_.store(false, std::memory_order_seq_cst);
    fd_.run()->kvm_dirty_regs = 0;
    if (exited) handle_exit();
    else drain_kicks();
  }
}

void Vcpu::handle_exit() {
  kvm_run* run = fd_.run();
  switch (run->exit_reason) {
    case KVM_EXIT_IO:
      handle_io();
      return;
    case KVM_EXIT_XEN:
      if (run->xen.type == KVM_EXIT_XEN_HCALL) {
        auto& h = run->xen.u.hcall;
        const uint64_t args[5] = {h.params[0], h.params[1], h.params[2], h.params[3], h.params[4]};
        int64_t result;
        handle_hypercall(h.input, args, result, h.cpl, h.longmode);
        h.result = static_cast<uint64_t>(result);
      }
      return;
    case KVM_EXIT_X86_WRMSR:
      handle_msr_write();
      return;
    case KVM_EXIT_X86_RDMSR:
      run->msr.error = 1;  // #GP: nothing readable here
      return;
    case KVM_EXIT_HLT:
      handle_hlt();
      return;
    case KVM_EXIT_MMIO:
      handle_mmio();
      return;
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_INTR:
      return;
    case KVM_EXIT_SHUTDOWN:
      crash("triple fault");
      return;
    case KVM_EXIT_INTERNAL_ERROR:
      crash("KVM internal error, suberror " + std::to_string(run->internal.suberror) +
            " (an instruction KVM cannot emulate here?)");
      return;
    case KVM_EXIT_FAIL_ENTRY:
      crash("KVM failed to enter the guest, reason " +
            std::to_string(run->fail_entry.hardware_entry_failure_reason));
      return;
    default:
      crash("unexpected KVM exit " + std::to_string(run->exit_reason));
      return;
  }
}

void Vcpu::handle_io() {
  kvm_run* run = fd_.run();
  auto& io = run->io;
  uint8_t* data = reinterpret_cast<uint8_t*>(run) + io.data_offset;
  if (io.port == kHypercallPort && io.direction == KVM_EXIT_IO_OUT && dom_.transport() == Transport::kPortIo) {
    auto& r = run->s.regs.regs;
    const auto& s = run->s.regs.sregs;
    const uint64_t args[5] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8};
    int64_t result;
    handle_hypercall(port_io_hypercall_number(r.rip), args, result, s.cs.selector & 3, (s.efer & kEferLma) && s.cs.l);
    r.rax = static_cast<uint64_t>(result);
    run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
    return;
  }
  for (uint32_t i = 0; i < io.count; i++, data += io.size) {
    if (SerialPort::claims(io.port) && io.size == 1) {
      if (io.direction == KVM_EXIT_IO_OUT) dom_.serial().write(io.port, *data);
      else *data = dom_.serial().read(io.port);
    } else if (io.direction == KVM_EXIT_IO_IN) {
      std::memset(data, 0xff, io.size);  // nothing there: the bus floats high
    }
  }
}

void Vcpu::handle_hypercall(uint64_t nr, const uint64_t (&args)[5], int64_t& result, uint32_t cpl, bool longmode) {
  const auto& s = fd_.run()->s.regs.sregs;
  GuestAccess guest(dom_.memory(), PagingState{s.cr0, s.cr3, s.cr4, s.efer});
  Hypercall hc{dom_, *this, nr, {args[0], args[1], args[2], args[3], args[4]}, guest};
  if (cpl != 0) {
    // As Xen: hypercalls from guest user mode are refused.
    dom_.stats().calls++;
    dom_.stats().failed++;
    result = -xen::XEN_EPERM;
    return;
  }
  if (!longmode) {
    // The 32-bit hypercall ABI (and its compat structures) is not provided.
    hc.nr = UINT64_MAX;
  }
  try {
    result = dispatch_hypercall(hc, dom_.stats());
  } catch (const std::exception& e) {
    pv::log::error("vcpu" + std::to_string(id_) + ": hypercall " + std::to_string(nr) + " failed internally: " + e.what());
    result = -xen::XEN_EFAULT;
  }
  if (dom_.trace()) {
    char line[160];
    std::snprintf(line, sizeof line, "vcpu%u: hypercall %" PRIu64 "(%#" PRIx64 ", %#" PRIx64 ", %#" PRIx64 ") = %" PRId64,
                  id_, nr, args[0], args[1], args[2], result);
    pv::log::debug(line);
  }
}

void Vcpu::handle_msr_write() {
  kvm_run* run = fd_.run();
  if (run->msr.index != xen::cpuid::kHypercallMsr) {
    run->msr.error = 1;
    return;
  }
  // Value: guest-physical page address | page index (we have one page).
  const uint64_t gpa = run->msr.data & ~0xfffull;
  uint8_t* page = dom_.memory().host(gpa, xen::kPageSize);
  if ((run->msr.data & 0xfff) != 0 || !page) {
    run->msr.error = 1;
    return;
  }
  write_port_io_hypercall_page(page);
  dom_.set_hypercall_page_gfn(gpa >> 12);
  run->msr.error = 0;
}

void Vcpu::handle_hlt() {
  if (dom_.trace()) pv::log::debug("vcpu" + std::to_string(id_) + ": hlt (if=" + std::to_string(fd_.run()->if_flag) + ")");
  if (!fd_.run()->if_flag) {
    // HLT with interrupts off never wakes: as Xen does, the vCPU goes down
    // (VCPUOP_up brings it back; when every vCPU is down, the domain
    // powers off).
    down();
    return;
  }
  block_until_event();
}

void Vcpu::handle_mmio() {
  auto& m = fd_.run()->mmio;
  // No device lives in MMIO space (there is no local APIC either): reads
  // of the APIC page return 0, anything else reads as all ones; writes are
  // dropped.
  if (!m.is_write) {
    const bool apic = m.phys_addr >= kLapicBase && m.phys_addr < kLapicBase + kLapicSize;
    std::memset(m.data, apic ? 0 : 0xff, sizeof(m.data));
  }
}

void Vcpu::crash(const std::string& why) {
  const auto& r = fd_.run()->s.regs.regs;
  const auto& s = fd_.run()->s.regs.sregs;
  char regs[320];
  std::snprintf(regs, sizeof regs,
                "rip=%016llx rsp=%016llx rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx rsi=%016llx rdi=%016llx "
                "cr0=%llx cr3=%llx cr4=%llx efer=%llx cs=%x",
                r.rip, r.rsp, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, s.cr0, s.cr3, s.cr4, s.efer, s.cs.selector);
  pv::log::error("vcpu" + std::to_string(id_) + ": " + why);
  pv::log::error("vcpu" + std::to_string(id_) + ": " + regs);
  dom_.shutdown(xen::shutdown::crash, "vcpu" + std::to_string(id_) + ": " + why);
}

}  // namespace pv
