// The admin API's network requests (network_create, network_list,
// network_destroy), answered by a NetworkManager. pvd's admin server
// hands every request here first.
#pragma once
#include <optional>

#include "admin.pb.h"

namespace pv::net {

class NetworkManager;

// The reply to a network request, or nullopt when `req` is not one.
std::optional<admin::Reply> handle_network_request(NetworkManager& networks, const admin::Request& req);

}  // namespace pv::net
