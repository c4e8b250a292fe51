// The memory balancer's driver on pvd's loop (the policy is
// memory_balancer.cpp): every interval it reads the host's free memory and,
// for each running domain, what pv-hv counts (current, maximum) and what the
// guest reports in xenstore (control/feature-balloon, data/meminfo_total and
// data/meminfo_free), asks the policy, and writes memory/target only, as
// squeezed does. A domain that does not give back what it was asked is
// marked uncooperative and left alone until its target is set again.
#include <cerrno>
#include <fstream>

#include "domain_manager.h"
#include "domain_memory.h"
#include "memory_policy.h"
#include "pv/error.h"
#include "pv/log.h"

namespace pv::pvd {
namespace {

constexpr uint64_t kSlackKib = 2048;     // a domain this close to what it was asked has followed
constexpr uint64_t kProgressKib = 1024;  // given back since the last look: still following

// A guest's decimal KiB (its word): digits only, no overflow, else nullopt.
std::optional<uint64_t> guest_kib(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : *v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

std::string mib_text(uint64_t kib) { return std::to_string(kib / 1024) + " MiB"; }

}  // namespace

uint64_t host_free_kib(const std::string& host_free_file) {
  if (!host_free_file.empty()) {
    std::ifstream f(host_free_file);
    if (!f) throw SystemError("cannot read --balancer-host-free-file " + host_free_file, errno);
    uint64_t mib = 0;
    if (!(f >> mib)) throw UserError(host_free_file + " does not hold a number of MiB (--balancer-host-free-file)");
    return mib * 1024;
  }
  return host_meminfo_kib("MemAvailable");
}

void DomainManager::start_balancer(const BalancerSettings& s) {
  balancer_ = s;
  if (!s.on) return;
  balancer_timer_ = std::make_unique<boost::asio::steady_timer>(io_);
  log::info("memory balancer on: low water " + mib_text(s.policy.low_water_kib) + ", high water " +
            mib_text(s.policy.high_water_kib) + ", margin " + mib_text(s.policy.margin_kib) + ", floor " +
            mib_text(s.policy.floor_kib) + ", every " + std::to_string(s.interval.count()) + " ms" +
            (s.host_free_file.empty() ? "" : ", host free read from " + s.host_free_file + " (test aid)"));
  schedule_balancer();
}

void DomainManager::schedule_balancer() {
  balancer_timer_->expires_after(balancer_.interval);
  balancer_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    balancer_round();
    schedule_balancer();
  });
}

bool DomainManager::balancer_input(Domain& d, BalancerDomain& in) {
  if (!d.proc || d.building || d.saving || d.destroying) return false;
  const uint32_t domid = d.rec.domid();
  const auto m = read_domain_memory(registry_.control_socket(domid), d.proc->pid());
  if (!m) return false;
  const std::string home = "/local/domain/" + std::to_string(domid) + "/";
  in.domid = domid;
  in.target_kib = d.target_mib() * 1024;
  in.maximum_kib = m->maximum_kib;
  in.current_kib = m->current_kib;
  if (!d.balanced_kib) {
    // A pvd restarted while a domain was balanced: memory/target (dom0's
    // node, the guest cannot write it) says what was asked.
    const auto asked = guest_kib(xenstore_.read(home + "memory/target"));
    if (asked && *asked < in.target_kib) d.balanced_kib = *asked;
  }
  in.balanced_kib = d.balanced_kib ? d.balanced_kib : in.target_kib;
  in.balloon = xenstore_.read(home + "control/feature-balloon").value_or("") == "1";
  in.reported_total_kib = guest_kib(xenstore_.read(home + "data/meminfo_total"));
  in.reported_free_kib = guest_kib(xenstore_.read(home + "data/meminfo_free"));
  follow_up(d, in.current_kib);
  in.cooperative = !d.uncooperative;
  return true;
}

// Does a domain asked to shrink follow? It has while it is within the slack
// of what it was asked, or gave back another MiB since the last look.
void DomainManager::follow_up(Domain& d, uint64_t current_kib) {
  const auto now = std::chrono::steady_clock::now();
  if (d.uncooperative || !d.balanced_kib || current_kib <= d.balanced_kib + kSlackKib) {
    d.progress_kib = 0;
    return;
  }
  if (!d.progress_kib || current_kib + kProgressKib <= d.progress_kib) {
    d.progress_kib = current_kib, d.progress_at = now;
    return;
  }
  if (now - d.progress_at < balancer_.stuck_after) return;
  d.uncooperative = true;
  log::warning("memory balancer: domain '" + d.rec.name() + "' (" + std::to_string(d.rec.domid()) + ") holds " +
               mib_text(current_kib) + " and has given nothing back toward the " + mib_text(d.balanced_kib) +
               " it was asked for in " + std::to_string(balancer_.stuck_after.count() / 1000) +
               " s: marked uncooperative, no longer balanced (pvctl mem-set gives it another chance)");
}

void DomainManager::balancer_round() {
  uint64_t free_kib = 0;
  try {
    free_kib = host_free_kib(balancer_.host_free_file);
    balancer_failure_.clear();
  } catch (const std::exception& e) {
    if (balancer_failure_ != e.what()) log::error(std::string("memory balancer: round skipped: ") + e.what());
    balancer_failure_ = e.what();
    return;
  }
  std::vector<BalancerDomain> in;
  for (auto& [id, d] : domains_) {
    BalancerDomain b;
    if (balancer_input(*d, b)) in.push_back(std::move(b));
  }
  for (const auto& c : balance(balancer_.policy, free_kib, in)) {
    auto it = domains_.find(c.domid);
    if (it == domains_.end()) continue;
    Domain& d = *it->second;
    const std::string path = "/local/domain/" + std::to_string(c.domid) + "/memory/target";
    const std::string who = "domain '" + d.rec.name() + "' (" + std::to_string(c.domid) + ")";
    if (!xenstore_.write(path, std::to_string(c.to_kib))) {
      log::error("memory balancer: cannot write " + path + " for " + who);
      continue;
    }
    log::info("memory balancer: " + who + " memory/target " + mib_text(c.from_kib) + " -> " + mib_text(c.to_kib) +
              ": " + c.why);
    const bool own = c.to_kib >= d.target_mib() * 1024;
    d.balanced_kib = own ? 0 : c.to_kib;
  }
}

}  // namespace pv::pvd
