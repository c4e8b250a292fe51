#include "cpu/runstate.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "memory/reservation.h"

namespace pv {

Runstate::Runstate(GuestMemory& mem, Reservation& reservation, int initial_state)
    : mem_(mem), reservation_(reservation) {
  info_.state = initial_state;
}

void Runstate::attach_thread(pid_t tid) {
  const std::string path = "/proc/self/task/" + std::to_string(tid) + "/schedstat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::lock_guard lk(mu_);
  schedstat_ = std::move(fd);  // none (no schedstats in this kernel): nothing is runnable
  if (schedstat_)
    if (auto d = read_run_delay(schedstat_.get())) run_delay_ = *d;
}

std::optional<uint64_t> Runstate::read_run_delay(int fd) {
  // "<time on CPU ns> <time waiting to run ns> <timeslices>"
  char buf[96];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return std::nullopt;
  buf[n] = 0;
  char* end = nullptr;
  (void)std::strtoull(buf, &end, 10);
  if (end == buf) return std::nullopt;
  char* end2 = nullptr;
  const unsigned long long delay = std::strtoull(end, &end2, 10);
  if (end2 == end) return std::nullopt;
  return delay;
}

void Runstate::account(uint64_t now) {
  if (now < last_update_) now = last_update_;  // system time never goes back
  const uint64_t elapsed = now - last_update_;
  uint64_t waited = 0;
  if (schedstat_) {
    if (auto d = read_run_delay(schedstat_.get()); d && *d >= run_delay_) {
      waited = std::min(*d - run_delay_, elapsed);
      run_delay_ = *d;
    }
  }
  const int s = info_.state;
  if (s >= 0 && s < 4) info_.time[s] += elapsed - waited;
  info_.time[xen::RUNSTATE_runnable] += waited;
  last_update_ = now;
}

void Runstate::change(int state, uint64_t now) {
  std::lock_guard lk(mu_);
  // The same state again (each KVM_RUN entry): the figures are brought up
  // to date at most every kRefreshNs, so a busy exit loop does not read
  // schedstat each time.
  if (state == info_.state && now >= last_update_ && now - last_update_ < kRefreshNs) return;
  account(now);
  if (state != info_.state) {
    info_.state = state;
    info_.state_entry_time = last_update_;
  }
  publish();
}

xen::vcpu_runstate_info Runstate::snapshot(uint64_t now) {
  std::lock_guard lk(mu_);
  account(now);
  publish();  // the area is never behind what the guest was told
  return info_;
}

void Runstate::set_area(uint64_t gpa0, uint32_t len0, uint64_t gpa1, uint32_t len1, uint64_t now) {
  std::lock_guard lk(mu_);
  gpa_[0] = gpa0, len_[0] = len0, gpa_[1] = gpa1, len_[1] = len1;
  account(now);
  publish();
}

// Only into populated RAM: a frame the guest ballooned out after
// registering is not written (nor brought back into the memfd).
uint8_t* Runstate::area_piece(uint64_t gpa, uint32_t len) const {
  if (!len || !reservation_.populated(gpa >> xen::kPageShift)) return nullptr;
  return mem_.host(gpa, len);
}

void Runstate::publish() {
  if (!len_[0]) return;
  uint8_t* p0 = area_piece(gpa_[0], len_[0]);
  uint8_t* p1 = len_[1] ? area_piece(gpa_[1], len_[1]) : nullptr;
  if (!p0 || (len_[1] && !p1)) return;
  mem_.note_written(p0, len_[0]);  // for a live migration's pre-copy
  if (p1) mem_.note_written(p1, len_[1]);
  auto put = [&](size_t off, const void* src, size_t n) {
    const auto* in = static_cast<const uint8_t*>(src);
    for (size_t i = 0; i < n; i++) {
      const size_t at = off + i;
      uint8_t* dst = at < len_[0] ? p0 + at : p1 + (at - len_[0]);
      __atomic_store_n(dst, in[i], __ATOMIC_RELAXED);
    }
  };
  // As Xen with the update flag: entry time flagged, the rest, entry time.
  const uint64_t entry = info_.state_entry_time;
  const uint64_t flagged = entry | xen::XEN_RUNSTATE_UPDATE;
  const size_t entry_off = offsetof(xen::vcpu_runstate_info, state_entry_time);
  put(entry_off, &flagged, sizeof flagged);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  put(0, &info_.state, sizeof info_.state);
  put(offsetof(xen::vcpu_runstate_info, time), info_.time, sizeof info_.time);
  __atomic_thread_fence(__ATOMIC_RELEASE);
  put(entry_off, &entry, sizeof entry);
}

}  // namespace pv
