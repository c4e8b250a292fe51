#include "memory_balancer.h"

#include <algorithm>
#include <sstream>

namespace pv::pvd {
namespace {

constexpr uint64_t kMib = 1024;  // KiB

uint64_t mib_up(uint64_t kib) { return (kib + kMib - 1) / kMib * kMib; }
uint64_t mib_down(uint64_t kib) { return kib / kMib * kMib; }
uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
std::string mib(uint64_t kib) {
  std::ostringstream s;
  s << kib / kMib;
  if (kib % kMib) s << "." << (kib % kMib) * 10 / kMib;
  s << " MiB";
  return s.str();
}

bool managed(const BalancerDomain& d) { return d.balloon && d.cooperative; }

// What the balancer may ask of a managed domain: up to its own target and
// pv-hv's ceiling, down to the floor (or that, when it is smaller).
struct Slot {
  const BalancerDomain* d;
  uint64_t ceiling, now, floor, want;  // `want`: working set + margin, or `now` when unknown
  uint64_t next;                       // what it gets
  std::string why;
};

}  // namespace

std::optional<uint64_t> reported_working_set_kib(const BalancerDomain& d) {
  if (!d.reported_total_kib || !d.reported_free_kib) return std::nullopt;
  const uint64_t total = *d.reported_total_kib, free = *d.reported_free_kib;
  // A guest's word: a total beyond what it can hold, or more free than it
  // has, is not a working set.
  if (total == 0 || free > total || (d.maximum_kib && total > d.maximum_kib)) return std::nullopt;
  return total - free;
}

std::vector<BalancerDecision> balance(const BalancerConfig& c, uint64_t host_free_kib,
                                      const std::vector<BalancerDomain>& domains) {
  std::vector<BalancerDecision> out;
  std::vector<Slot> slots;
  uint64_t pending_free = 0, pending_take = 0;
  for (const auto& d : domains) {
    if (!managed(d)) {
      // Not (or no longer) the balancer's: its own target again.
      if (d.balanced_kib < d.target_kib)
        out.push_back({d.domid, d.balanced_kib, d.target_kib,
                       d.balloon ? "it did not follow the balancer's targets (uncooperative): back to its own target"
                                 : "it has no balloon driver (control/feature-balloon): back to its own target"});
      continue;
    }
    Slot s{&d, 0, 0, 0, 0, 0, {}};
    s.ceiling = d.maximum_kib ? std::min(d.target_kib, d.maximum_kib) : d.target_kib;
    s.now = std::min(d.balanced_kib, s.ceiling);
    s.floor = std::min(c.floor_kib, s.now);
    const auto ws = reported_working_set_kib(d);
    s.want = ws ? std::clamp(mib_up(*ws + c.margin_kib), s.floor, s.now) : s.now;
    s.next = s.now;
    // Asked and not there yet: memory on its way back to the host (pv-hv's
    // count), or to the guest. A guest with free-page reporting holds its
    // reported pages without them being populated, and reports them in its
    // total: what it says it holds (at most its target) is not on its way.
    const uint64_t says = ws ? std::min(*d.reported_total_kib, s.now) : 0;
    pending_free += sub0(d.current_kib, s.now);
    pending_take += sub0(s.now, std::max(d.current_kib, says));
    slots.push_back(s);
  }
  // Whether to reclaim counts what is on its way back (so the balancer does
  // not ask twice); whether to give counts only what is back.
  const uint64_t effective = sub0(host_free_kib + pending_free, pending_take);
  const uint64_t givable = sub0(host_free_kib, pending_take);
  std::ostringstream host;
  host << "host free " << mib(host_free_kib);
  if (effective != host_free_kib) host << " (" << mib(effective) << " counting what domains are still giving or taking)";

  if (effective < c.low_water_kib) {
    uint64_t need = mib_up(sub0(c.high_water_kib, effective));  // targets move in whole MiB
    const std::string pressure = host.str() + " < low water " + mib(c.low_water_kib);
    // 1. Idle surplus, largest first.
    std::vector<Slot*> order;
    for (auto& s : slots) order.push_back(&s);
    std::stable_sort(order.begin(), order.end(),
                     [](const Slot* a, const Slot* b) { return a->now - a->want > b->now - b->want; });
    for (Slot* s : order) {
      if (need == 0) break;
      if (s->now <= s->want) continue;
      const uint64_t to = std::min(s->now, mib_up(std::max(s->want, sub0(s->now, need))));
      if (to >= s->now) continue;
      need = sub0(need, s->now - to);
      s->next = to;
      const auto ws = reported_working_set_kib(*s->d);
      s->why = pressure + ": idle surplus (working set " + mib(ws.value_or(0)) + " + margin " + mib(c.margin_kib) + ")";
    }
    if (need < kMib) need = 0;  // what rounding left (a target not on a MiB boundary)
    // 2. Still short: even the largest targets down, toward the floor.
    if (need > 0) {
      uint64_t reducible = 0, top = 0;
      for (const auto& s : slots) reducible += sub0(s.next, s.floor), top = std::max(top, s.next);
      uint64_t level = 0;
      if (need < reducible) {
        auto cut = [&](uint64_t l) {
          uint64_t r = 0;
          for (const auto& s : slots) r += sub0(s.next, std::max(l, s.floor));
          return r;
        };
        uint64_t lo = 0, hi = top;  // cut(lo) >= need > cut(hi)
        while (hi - lo > 1) {
          const uint64_t mid = lo + (hi - lo) / 2;
          (cut(mid) >= need ? lo : hi) = mid;
        }
        level = mib_down(lo);
      }
      for (auto& s : slots) {
        const uint64_t to = std::min(s.next, std::max(level, s.floor));
        if (to >= s.next) continue;
        s.next = to;
        s.why = pressure + ": not enough idle memory, the largest targets are evened down (level " + mib(level) +
                ", floor " + mib(s.floor) + "; its reported working set is not taken on its word)";
      }
    }
  } else if (givable > c.high_water_kib) {
    uint64_t budget = givable - c.high_water_kib;
    std::vector<Slot*> order;
    for (auto& s : slots)
      if (s.now < s.ceiling) order.push_back(&s);
    // The furthest below its own target, in proportion, first.
    std::stable_sort(order.begin(), order.end(), [](const Slot* a, const Slot* b) {
      return static_cast<unsigned __int128>(a->now) * b->ceiling < static_cast<unsigned __int128>(b->now) * a->ceiling;
    });
    for (Slot* s : order) {
      if (budget == 0) break;
      uint64_t to = s->now + std::min(s->ceiling - s->now, budget);
      if (to != s->ceiling) to = mib_down(to);
      if (to <= s->now) continue;
      budget -= to - s->now;
      s->next = to;
      s->why = host.str() + " > high water " + mib(c.high_water_kib) + ": growing back toward its own target " +
               mib(s->ceiling);
    }
  }
  for (const auto& s : slots) {
    if (s.next != s.d->balanced_kib)
      out.push_back({s.d->domid, s.d->balanced_kib, s.next,
                     s.why.empty() ? "its target is at most " + mib(s.ceiling) + " (its own target and maximum)" : s.why});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.domid < b.domid; });
  return out;
}

}  // namespace pv::pvd
