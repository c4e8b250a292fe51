// pvctl network: create, list and destroy pvd's virtual networks.
//
//   pvctl network create NAME --mode host-only|nat|bridge [--subnet CIDR]
//                             [--bridge NAME] [--forward PROTO:HOSTPORT:GUESTIP:GUESTPORT]...
//   pvctl network list [--json]
//   pvctl network destroy NAME
#pragma once
#include <string>
#include <vector>

namespace pv::pvctl {

// `args` follow the word "network". Returns pvctl's exit status (0 done,
// 1 pvd refused, 2 usage, 3 pvd unreachable).
int run_network(const std::vector<std::string>& args, const std::string& socket);

}  // namespace pv::pvctl
