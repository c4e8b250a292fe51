// `pvctl info [--json] DOMAIN`: one domain in full, as `xl list -l` gives
// it: identity (uuid), state and uptime, memory and vCPUs, its disks and
// vifs with their back-ends' xenbus state, and its on_* actions.
#pragma once
#include <string>
#include <vector>

#include "admin.pb.h"
#include "verbs.h"

namespace pv::pvctl {

int info_verb(const std::vector<std::string>& args, const Context& ctx);

// xl's state flags: r running, b blocked, p paused, s shutdown, c crashed, d dying.
std::string state_flags(admin::DomainState s);

// "Connected (4)", "none" for 0 (xenbus states, Xen's XenbusState).
std::string xenbus_state_text(uint32_t state);

// The text and the --json line `info` prints for `d`, at time `now` (Unix s).
std::string info_text(const admin::DomainInfo& d, unsigned long long now);
std::string info_json(const admin::DomainInfo& d, unsigned long long now);

}  // namespace pv::pvctl
