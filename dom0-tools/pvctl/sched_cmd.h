// xl's sched-credit verb: each domain's CPU weight and cap.
//
//   pvctl sched-credit                      every domain's share
//   pvctl sched-credit -d DOMAIN            one domain's
//   pvctl sched-credit -d DOMAIN [-w WEIGHT] [-c CAP]   change it
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int sched_credit_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
