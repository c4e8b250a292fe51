// Domain-0 as pvd reports it (xl list's first row): the host itself.
#pragma once
#include <string>

#include "admin.pb.h"

namespace pv::pvd {

// "Domain-0" or "0" (as xl names it).
bool is_domain0(const std::string& name_or_id);

// domid 0, "Domain-0", running; memory = the host's RAM in MiB, vCPUs =
// its online CPUs, CPU time = pvd's own (user + system), created = the
// host's boot time (so its uptime is the host's).
admin::DomainInfo domain0_info();

}  // namespace pv::pvd
