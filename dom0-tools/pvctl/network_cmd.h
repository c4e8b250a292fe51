// pvctl network: create, list and destroy pvd's virtual networks.
//
//   pvctl network create NAME --mode host-only|nat|bridge [--subnet CIDR]
//                             [--bridge NAME] [--forward PROTO:HOSTPORT:GUESTIP:GUESTPORT]...
//   pvctl network list [--json]
//   pvctl network destroy NAME
#pragma once
#include "verbs.h"

namespace pv::pvctl {

// The sub-verbs of `pvctl network`. Each returns pvctl's exit status (0
// done, 1 pvd refused, 2 usage, 3 pvd unreachable).
extern const VerbSet kNetworkVerbs;

}  // namespace pv::pvctl
