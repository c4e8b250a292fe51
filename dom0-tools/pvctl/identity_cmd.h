// xl's domid, domname and uptime verbs, answered from pvd's listing
// (Domain-0 included).
//
//   pvctl domid NAME        the ID of the domain called NAME
//   pvctl domname ID        the name of domain ID
//   pvctl uptime [-s] [DOMAIN...]
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int domid_verb(const std::vector<std::string>& args, const Context& ctx);
int domname_verb(const std::vector<std::string>& args, const Context& ctx);
int uptime_verb(const std::vector<std::string>& args, const Context& ctx);

// xl's uptime_to_string: "H:MM:SS", "1 day, H:MM:SS", "N days, H:MM:SS"
// (short: without the seconds).
std::string uptime_text(unsigned long long seconds, bool short_form);

}  // namespace pv::pvctl
