// A network's packet filtering and NAT: one nftables table per network,
// `table inet pvnet-<name>`, built as rule text and loaded with libnftables
// (in the network namespace of the calling thread). Loading replaces the
// table atomically, so applying twice is harmless; deleting an absent
// table is not an error.
//
//   host-only  forward: traffic between the bridge and anything else is
//              dropped (guests and the host still talk: that is not
//              forwarding).
//   nat        forward: guests' own addresses out, replies and forwarded
//              ports in, everything else into the subnet dropped;
//              postrouting: masquerade the subnet leaving by any interface
//              but the bridge; prerouting: DNAT of each forwarded port
//              addressed to the host.
//   bridge     no table.
#pragma once
#include <string>

#include "network/network_spec.h"

namespace pv::net {

std::string nft_table_name(const std::string& network);  // "pvnet-<name>"

// The complete table definition for `spec` (empty for bridge mode).
std::string nft_ruleset(const NetworkSpec& spec);

// Throws NetworkError(kSystem) with nftables' own error text.
void nft_apply(const NetworkSpec& spec);
void nft_delete(const std::string& network);

}  // namespace pv::net
