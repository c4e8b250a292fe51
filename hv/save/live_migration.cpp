#include "save/live_migration.h"

#include <linux/kvm.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>

#include "boot/layout.h"
#include "cpu/vcpu.h"
#include "domain.h"
#include "pv/error.h"
#include "pv/log.h"
#include "save/domain_stream.h"
#include "save/domain_writer.h"
#include "save/vcpu_pause.h"

namespace pv {

namespace {
using Clock = std::chrono::steady_clock;
constexpr uint64_t kMaxWaitMs = 600'000;
constexpr std::chrono::seconds kParkTimeout{5};
constexpr std::chrono::milliseconds kHoldTimeout{60'000};
constexpr uint64_t kPage = save::kFrameBytes;

// One bit per guest frame.
class FrameSet {
 public:
  explicit FrameSet(uint64_t frames) : frames_(frames), words_((frames + 63) / 64, 0) {}
  uint64_t* data() { return words_.data(); }
  void set(uint64_t gfn) {
    if (gfn < frames_) words_[gfn / 64] |= uint64_t{1} << (gfn % 64);
  }
  void merge(const FrameSet& o) {
    for (size_t i = 0; i < words_.size(); i++) words_[i] |= o.words_[i];
  }
  void clear() { std::fill(words_.begin(), words_.end(), 0); }
  bool test(uint64_t gfn) const { return gfn < frames_ && (words_[gfn / 64] >> (gfn % 64) & 1); }
  uint64_t frames() const { return frames_; }

 private:
  uint64_t frames_;
  std::vector<uint64_t> words_;
};

// KVM's dirty log on guest RAM (slot 0) while this lives.
class DirtyLogging {
 public:
  explicit DirtyLogging(Domain& dom) : dom_(dom) {
    GuestMemory& m = dom.memory();
    dom.vm().set_memory(0, 0, m.size(), m.base(), KVM_MEM_LOG_DIRTY_PAGES);
  }
  ~DirtyLogging() {
    GuestMemory& m = dom_.memory();
    try {
      dom_.vm().set_memory(0, 0, m.size(), m.base(), 0);
    } catch (const std::exception& e) {
      log::warning(std::string("live migration: dirty logging stays on: ") + e.what());
    }
  }
  DirtyLogging(const DirtyLogging&) = delete;
  DirtyLogging& operator=(const DirtyLogging&) = delete;

  // Adds every frame written since the last call (by the guest, the host
  // or pv-backd; `with_held`: and the frames a back-end holds writable).
  void collect(FrameSet& into, bool with_held) {
    FrameSet kvm(into.frames());
    dom_.vm().get_dirty_log(0, kvm.data());
    into.merge(kvm);
    dom_.gnttab().take_written([&](uint64_t gfn) { into.set(gfn); }, with_held);
  }

 private:
  Domain& dom_;
};

// Sends the populated frames of `set` as runs; returns how many.
uint64_t send_frames(Domain& dom, save::DomainStreamWriter& out, const FrameSet& set) {
  GuestMemory& m = dom.memory();
  Reservation& r = dom.reservation();
  uint64_t sent = 0;
  for (uint64_t gfn = 0; gfn < set.frames();) {
    if (!set.test(gfn) || !r.populated(gfn)) {
      gfn++;
      continue;
    }
    uint64_t end = gfn + 1;
    while (end < set.frames() && set.test(end) && r.populated(end)) end++;
    out.memory(gfn, m.page(gfn), end - gfn);
    sent += end - gfn;
    gfn = end;
  }
  return sent;
}

uint64_t count_populated(Domain& dom, const FrameSet& set) {
  uint64_t n = 0;
  for (uint64_t gfn = 0; gfn < set.frames(); gfn++) n += set.test(gfn) && dom.reservation().populated(gfn);
  return n;
}

// The Xen pages the host writes through pointers (not the written bitmap).
void add_xen_pages(Domain& dom, FrameSet& set) {
  const uint64_t ram = dom.memory().size();
  for (uint64_t g = boot::special_base_gfn(ram); g < ram / kPage; g++) set.set(g);
  set.set(dom.shared_info_gfn());
  for (uint32_t v = 0; v < dom.nr_vcpus(); v++) set.set(dom.vcpu_info_gfn(v));
  for (uint32_t i = 0; i < dom.gnttab().nr_frames(); i++) set.set(dom.gnttab().frame_gfn(i));
}

std::vector<std::pair<uint64_t, uint64_t>> populated_runs(Domain& dom) {
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  const uint64_t frames = dom.memory().pages();
  for (uint64_t gfn = 0; gfn < frames;) {
    if (!dom.reservation().populated(gfn)) {
      gfn++;
      continue;
    }
    uint64_t end = gfn + 1;
    while (end < frames && dom.reservation().populated(end)) end++;
    runs.emplace_back(gfn, end - gfn);
    gfn = end;
  }
  return runs;
}

uint64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

// The pre-copy's figures, pass by pass.
struct Pacer {
  uint64_t bandwidth = 0;  // bytes per second, the last pass
  ctl::PassReport report(uint32_t pass, uint64_t frames, uint64_t bytes_before, uint64_t bytes_after,
                         Clock::time_point start, Clock::time_point end, uint64_t dirty) {
    const uint64_t us = std::max<uint64_t>(
        1, static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(end - start).count()));
    if (frames) bandwidth = std::max<uint64_t>(1, (bytes_after - bytes_before) * 1'000'000 / us);
    ctl::PassReport r{};
    r.magic = ctl::kMagic;
    r.status = ctl::kPass;
    r.pass = pass;
    r.frames_sent = frames;
    r.stream_bytes = bytes_after;
    r.dirty_frames = dirty;
    r.dirty_rate = dirty * 1'000'000 / us;
    r.bandwidth = bandwidth;
    r.estimated_downtime_ms = static_cast<uint32_t>(std::min<uint64_t>(~uint32_t{0}, downtime_ms(dirty)));
    return r;
  }
  uint64_t downtime_ms(uint64_t frames) const { return bandwidth ? frames * kPage * 1000 / bandwidth : ~uint64_t{0}; }
};

}  // namespace

int32_t handle_live_migration(Domain& dom, const ctl::Request& req, std::vector<UniqueFd>& fds,
                              ControlServer::SaveRequester& requester) {
  const ctl::LiveParams lp = ctl::LiveParams::decode(req.value);
  if (lp.suspend_timeout_ms == 0 || lp.suspend_timeout_ms > kMaxWaitMs || lp.max_downtime_ms == 0 || lp.max_passes == 0)
    return -EINVAL;
  if (fds.empty() || fds.size() > 2) return -EBADF;
  state::DomainConfig toolstack;
  if (fds.size() == 2 && !save::read_toolstack_record(fds[1].get(), ctl::kMaxToolstackRecord, toolstack)) return -EINVAL;
  const std::string& name = dom.options().name;
  SuspendGate& gate = dom.suspend_gate();
  const uint64_t frames = dom.memory().pages();

  std::optional<DirtyLogging> logging;
  std::optional<save::DomainStreamWriter> out;
  FrameSet dirty(frames);
  Pacer pacer;
  uint32_t pass = 0;
  try {
    logging.emplace(dom);
    out.emplace(fds[0].get(), domain_config_record(dom, toolstack));
    logging->collect(dirty, false);  // what was written before is in pass 0 anyway
    dirty.clear();
    FrameSet all(frames);
    for (uint64_t g = 0; g < frames; g++) all.set(g);
    for (;;) {
      const auto t0 = Clock::now();
      const uint64_t b0 = out->bytes_written();
      const uint64_t sent = send_frames(dom, *out, pass == 0 ? all : dirty);
      const auto t1 = Clock::now();
      dirty.clear();
      logging->collect(dirty, false);
      const uint64_t left = count_populated(dom, dirty);
      const ctl::PassReport rep = pacer.report(pass, sent, b0, out->bytes_written(), t0, t1, left);
      ctl::Reply as_reply;
      static_assert(sizeof as_reply == sizeof rep);
      std::memcpy(&as_reply, &rep, sizeof rep);
      requester.report(as_reply);
      log::info("domain " + name + ": live migration pass " + std::to_string(pass) + ": " + std::to_string(sent) +
                " frames in " + std::to_string(ms_between(t0, t1)) + " ms (" + std::to_string(pacer.bandwidth >> 20) +
                " MiB/s); " + std::to_string(left) + " dirtied meanwhile (about " +
                std::to_string(rep.estimated_downtime_ms) + " ms to send)");
      if (requester.gone()) {
        log::warning("domain " + name + ": whoever asked for the migration has gone; it is cancelled, the guest goes on");
        return -ECONNRESET;
      }
      if (pacer.downtime_ms(left) <= lp.max_downtime_ms || pass + 1u >= lp.max_passes) break;
      out->pass(++pass, left);
    }
  } catch (const std::exception& e) {
    log::error("domain " + name + ": live migration stopped in pass " + std::to_string(pass) + ": " + e.what() +
               "; the guest goes on");
    return -EIO;
  }

  // Stop: the guest suspends, every vCPU still, the last pass.
  if (!gate.arm()) return dom.shutting_down() ? -ESRCH : -EBUSY;
  requester.interim(ctl::kArmed);
  if (!gate.await_suspend(std::chrono::milliseconds(lp.suspend_timeout_ms))) {
    if (dom.shutting_down()) return -ESRCH;
    log::warning("domain " + name + ": the guest did not suspend within " + std::to_string(lp.suspend_timeout_ms) +
                 " ms; live migration cancelled, it keeps running");
    return -ETIMEDOUT;
  }
  if (requester.gone()) {
    log::warning("domain " + name + ": whoever asked for the migration has gone; it is cancelled, the guest goes on");
    gate.release(1);
    return -ECONNRESET;
  }
  int32_t status = 0;
  std::optional<OtherVcpusPaused> others;
  others.emplace(dom, gate.held_vcpu(), kParkTimeout);
  if (!others->parked()) {
    log::error("domain " + name + ": a vCPU did not pause within " + std::to_string(kParkTimeout.count()) +
               " s; live migration cancelled, the guest goes on");
    status = -EIO;
  } else {
    requester.interim(ctl::kStopped);
    try {
      const auto t0 = Clock::now();
      logging->collect(dirty, true);
      add_xen_pages(dom, dirty);
      out->pass(++pass, count_populated(dom, dirty));
      const uint64_t sent = send_frames(dom, *out, dirty);
      out->populated(populated_runs(dom));
      write_domain_rest(dom, *out, gate.held_vcpu());
      log::info("domain " + name + ": live migration: last pass " + std::to_string(pass) + ", " + std::to_string(sent) +
                " frames and the domain's state in " + std::to_string(ms_between(t0, Clock::now())) + " ms; " +
                std::to_string(out->bytes_written()) + " bytes in all");
    } catch (const std::exception& e) {
      log::error("domain " + name + ": live migration's last pass not sent: " + e.what() + "; the guest goes on");
      status = -EIO;
    }
  }
  if (status == 0) {
    requester.interim(ctl::kWritten);
    if (!requester.await_release(kHoldTimeout))
      log::warning("domain " + name + ": no word from the toolstack within " + std::to_string(kHoldTimeout.count() / 1000) +
                   " s (or it went away); the guest goes on");
  }
  others.reset();
  logging.reset();
  log::info("domain " + name + ": resuming it here (suspend cancelled)");
  gate.release(1);
  return status;
}

}  // namespace pv
