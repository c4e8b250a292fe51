// xl's scheduling verbs: each domain's CPU weight and cap, its vCPUs.
//
//   pvctl sched-credit                      every domain's share
//   pvctl sched-credit -d DOMAIN            one domain's
//   pvctl sched-credit -d DOMAIN [-w WEIGHT] [-c CAP]   change it
//   pvctl vcpu-list [DOMAIN]                vCPUs: host CPU, state, time, affinity
//   pvctl vcpu-pin DOMAIN VCPU|all CPUS     hard affinity ("0-3,6", "all", "^2")
//   pvctl vcpu-set DOMAIN N                 vCPUs 0..N-1 online, the rest offline
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int sched_credit_verb(const std::vector<std::string>& args, const Context& ctx);
int vcpu_list_verb(const std::vector<std::string>& args, const Context& ctx);
int vcpu_pin_verb(const std::vector<std::string>& args, const Context& ctx);
int vcpu_set_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
