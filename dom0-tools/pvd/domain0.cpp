#include "domain0.h"

#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <ctime>

namespace pv::pvd {

bool is_domain0(const std::string& name_or_id) { return name_or_id == "Domain-0" || name_or_id == "0"; }

admin::DomainInfo domain0_info() {
  admin::DomainInfo i;
  i.set_domid(0);
  i.set_name("Domain-0");
  i.set_state(admin::STATE_RUNNING);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) i.set_memory_mib(static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) >> 20);
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  i.set_vcpus(cpus > 0 ? static_cast<uint32_t>(cpus) : 1);
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) == 0)
    i.set_cpu_time_s(static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  struct sysinfo si{};
  if (::sysinfo(&si) == 0) i.set_created_unix_s(static_cast<uint64_t>(std::time(nullptr) - si.uptime));
  i.set_pid(static_cast<uint32_t>(::getpid()));
  return i;
}

}  // namespace pv::pvd
