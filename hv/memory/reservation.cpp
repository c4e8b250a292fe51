#include "memory/reservation.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "pv/error.h"
#include "pv/log.h"

namespace pv {

Reservation::Reservation(const GuestMemory& mem, uint64_t* absent, uint64_t absent_first, uint64_t absent_end,
                         IsSpecial is_special)
    : mem_(mem), absent_(absent), is_special_(std::move(is_special)), maximum_(mem.pages()) {
  if (absent_first > absent_end || absent_end > mem.pages())
    throw UserError("ballooned-out range [" + std::to_string(absent_first) + ", " + std::to_string(absent_end) +
                    ") lies outside guest RAM (" + std::to_string(mem.pages()) + " frames)");
  boot_absent_.assign((mem.pages() + 63) / 64, 0);
  for (uint64_t g = absent_first; g < absent_end; g++) {
    set_absent(g, true);
    boot_absent_[g / 64] |= uint64_t{1} << (g % 64);
  }
  populated_ = mem.pages() - (absent_end - absent_first);
}

bool Reservation::absent(uint64_t gfn) const {
  return __atomic_load_n(&absent_[gfn / 64], __ATOMIC_ACQUIRE) & (uint64_t{1} << (gfn % 64));
}

void Reservation::set_absent(uint64_t gfn, bool absent) {
  const uint64_t bit = uint64_t{1} << (gfn % 64);
  if (absent) __atomic_fetch_or(&absent_[gfn / 64], bit, __ATOMIC_ACQ_REL);
  else __atomic_fetch_and(&absent_[gfn / 64], ~bit, __ATOMIC_ACQ_REL);
}

bool Reservation::boot_absent(uint64_t gfn) const { return boot_absent_[gfn / 64] & (uint64_t{1} << (gfn % 64)); }

bool Reservation::refusable(uint64_t gfn) const { return xen_pages_.count(gfn) || (is_special_ && is_special_(gfn)); }

// Gives the frames' memory back to the host: the memfd keeps its size, the
// range reads as zeroes, and every mapping of it (pv-hv's, KVM's, pv-backd's)
// drops the pages.
void Reservation::punch(uint64_t gfn, uint64_t pages) const {
  if (::fallocate(mem_.fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(gfn << 12),
                  static_cast<off_t>(pages << 12)) != 0)
    throw_errno("fallocate(PUNCH_HOLE) of guest frames " + std::to_string(gfn) + "+" + std::to_string(pages));
}

namespace {
// Frames to punch, gathered into contiguous runs: one fallocate per run
// (a punch costs about as much for one page as for a thousand).
class PunchRuns {
 public:
  PunchRuns(const char* what, std::function<void(uint64_t, uint64_t)> punch) : what_(what), punch_(std::move(punch)) {}
  ~PunchRuns() { flush(); }
  void add(uint64_t gfn, uint64_t pages) {
    if (pages_ && gfn == first_ + pages_) {
      pages_ += pages;
      return;
    }
    flush();
    first_ = gfn, pages_ = pages;
  }
  void flush() {
    if (!pages_) return;
    try {
      punch_(first_, pages_);
    } catch (const SystemError& e) {
      // The frames stay recorded as given back; populate punches again.
      log::error(std::string(what_) + ": " + e.what());
    }
    pages_ = 0;
  }

 private:
  const char* what_;
  std::function<void(uint64_t, uint64_t)> punch_;
  uint64_t first_ = 0, pages_ = 0;
};
}  // namespace

uint64_t Reservation::decrease(uint64_t start, uint64_t nr, uint32_t order, const ReadExtent& read) {
  if (order > kMaxOrder || nr > kMaxExtents || start >= nr) return start;
  const uint64_t pages = uint64_t{1} << order;
  const uint64_t limit = start + std::min(nr - start, std::max<uint64_t>(1, kMaxPagesPerCall >> order));
  std::lock_guard lk(mu_);
  // The frames are recorded as gone (pv-backd stops using them) before
  // their memory goes.
  PunchRuns runs("decrease_reservation", [this](uint64_t g, uint64_t n) { punch(g, n); });
  uint64_t i = start;
  for (; i < limit; i++) {
    uint64_t gfn = 0;
    if (!read(i, gfn)) break;
    if (gfn >= mem_.pages() || pages > mem_.pages() - gfn) break;  // outside RAM, overflow included
    bool ok = true;
    for (uint64_t g = gfn; g < gfn + pages && ok; g++) ok = (!absent(g) || boot_absent(g)) && !refusable(g);
    if (!ok) break;  // not the guest's memory, special, or given back already
    for (uint64_t g = gfn; g < gfn + pages; g++) {
      if (boot_absent(g)) boot_absent_[g / 64] &= ~(uint64_t{1} << (g % 64));  // a PoD entry: nothing was held
      else populated_--, set_absent(g, true);
    }
    runs.add(gfn, pages);
  }
  return i;
}

uint64_t Reservation::populate(uint64_t start, uint64_t nr, uint32_t order, const ReadExtent& read) {
  if (order > kMaxOrder || nr > kMaxExtents || start >= nr) return start;
  const uint64_t pages = uint64_t{1} << order;
  const uint64_t limit = start + std::min(nr - start, std::max<uint64_t>(1, kMaxPagesPerCall >> order));
  std::lock_guard lk(mu_);
  // A hostile guest may have written to the holes; the frames come back
  // zeroed whatever it did, before this call returns.
  PunchRuns runs("populate_physmap", [this](uint64_t g, uint64_t n) { punch(g, n); });
  uint64_t i = start;
  for (; i < limit; i++) {
    if (populated_ + pages > maximum_) break;  // the ceiling: Xen's allocation fails
    uint64_t gfn = 0;
    if (!read(i, gfn)) break;
    if (gfn >= mem_.pages() || pages > mem_.pages() - gfn) break;
    bool ok = true;
    for (uint64_t g = gfn; g < gfn + pages && ok; g++) ok = absent(g) && !refusable(g);
    if (!ok) break;  // populated already
    for (uint64_t g = gfn; g < gfn + pages; g++) {
      set_absent(g, false);
      boot_absent_[g / 64] &= ~(uint64_t{1} << (g % 64));
    }
    populated_ += pages;
    runs.add(gfn, pages);
  }
  return i;
}

uint64_t Reservation::increase(uint64_t start, uint64_t nr, uint32_t order) {
  (void)nr, (void)order;
  return start;
}

uint64_t Reservation::current() const {
  std::lock_guard lk(mu_);
  return populated_;
}

uint64_t Reservation::maximum() const {
  std::lock_guard lk(mu_);
  return maximum_;
}

uint64_t Reservation::ballooned_out() const {
  std::lock_guard lk(mu_);
  uint64_t n = 0;
  const uint64_t words = (mem_.pages() + 63) / 64;
  for (uint64_t w = 0; w < words; w++) n += __builtin_popcountll(__atomic_load_n(&absent_[w], __ATOMIC_ACQUIRE));
  return n;
}

void Reservation::set_maximum(uint64_t pages) {
  std::lock_guard lk(mu_);
  maximum_ = std::min(pages, mem_.pages());
}

bool Reservation::populated(uint64_t gfn) const { return gfn < mem_.pages() && !absent(gfn); }

void Reservation::restore(const std::vector<std::pair<uint64_t, uint64_t>>& runs, uint64_t pod_first,
                          uint64_t pod_end, uint64_t max_pages) {
  std::lock_guard lk(mu_);
  const uint64_t pages = mem_.pages();
  std::vector<bool> present(pages, false);
  for (const auto& [first, n] : runs)
    for (uint64_t g = first; g < first + n && g < pages; g++) present[g] = true;
  populated_ = 0;
  xen_pages_.clear();
  std::fill(boot_absent_.begin(), boot_absent_.end(), 0);
  for (uint64_t g = 0; g < pages; g++) {
    const bool in = present[g] || (is_special_ && is_special_(g));
    set_absent(g, !in);
    if (in) populated_++;
    else if (g >= pod_first && g < pod_end) boot_absent_[g / 64] |= uint64_t{1} << (g % 64);
  }
  maximum_ = max_pages ? std::min(max_pages, pages) : pages;  // 0: not recorded
}

void Reservation::xen_page_placed(uint64_t gfn) {
  if (gfn >= mem_.pages()) return;
  std::lock_guard lk(mu_);
  if (!xen_pages_.insert(gfn).second) return;
  boot_absent_[gfn / 64] &= ~(uint64_t{1} << (gfn % 64));
  if (absent(gfn)) set_absent(gfn, false);
  else populated_--;  // the RAM frame the Xen page replaces is freed
}

void Reservation::xen_page_removed(uint64_t gfn) {
  std::lock_guard lk(mu_);
  if (!xen_pages_.erase(gfn)) return;
  set_absent(gfn, true);
  try {
    punch(gfn, 1);
  } catch (const SystemError& e) {
    log::error(std::string("freeing the frame a Xen page left: ") + e.what());
  }
}

}  // namespace pv
