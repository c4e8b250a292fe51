#include "memory_policy.h"

#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/size.h"
#include "pv/error.h"

namespace pv::pvd {

uint64_t host_meminfo_kib(const std::string& field) {
  std::ifstream f("/proc/meminfo");
  if (!f) throw SystemError("cannot read /proc/meminfo", errno);
  const std::string key = field + ":";
  for (std::string line; std::getline(f, line);) {
    if (line.rfind(key, 0) != 0) continue;
    std::istringstream in(line.substr(key.size()));
    uint64_t kb = 0;
    if (in >> kb) return kb;
  }
  throw UserError("/proc/meminfo has no " + field + " line");
}

uint64_t host_memtotal_mib() { return host_meminfo_kib("MemTotal") / 1024; }

uint64_t admitted_capacity_mib(const MemoryPolicy& p) {
  const uint64_t host = p.host_mib ? *p.host_mib : host_memtotal_mib();
  const uint64_t usable = host > p.reserve_mib ? host - p.reserve_mib : 0;
  return static_cast<uint64_t>(std::floor(static_cast<double>(usable) * p.overcommit));
}

std::optional<std::string> admission_refusal(const MemoryPolicy& p, const std::string& name, uint64_t need_mib,
                                             uint64_t in_use_mib) {
  const uint64_t capacity = admitted_capacity_mib(p);
  const uint64_t free_mib = capacity > in_use_mib ? capacity - in_use_mib : 0;
  if (need_mib <= free_mib) return std::nullopt;
  std::ostringstream m;
  m << "not enough host memory for domain '" << name << "': it needs " << need_mib << " MiB, " << free_mib
    << " MiB of the " << capacity << " MiB pvd admits are free (" << in_use_mib
    << " MiB in use by domains; host memory minus a reserve of " << p.reserve_mib << " MiB, times an overcommit of "
    << p.overcommit << "; see pvd --mem-reserve / --mem-overcommit)";
  return m.str();
}

uint64_t parse_size_mib(const std::string& what, const std::string& text) {
  constexpr uint64_t kMaxMib = uint64_t{1} << 40;  // far beyond any host; keeps the arithmetic exact
  const auto mib = config::parse_size_mib(text);
  if (!mib) throw UserError(what + ": '" + text + "' is not a size (a number of MiB, or with a k, m, g or t suffix)");
  if (*mib > kMaxMib) throw UserError(what + ": '" + text + "' is too large");
  return *mib;
}

}  // namespace pv::pvd
