// The admin API's network requests (network_create, network_list,
// network_destroy), answered by a NetworkManager. pvd's admin server
// routes those kinds here.
#pragma once

#include "admin.pb.h"

namespace pv::net {

class NetworkManager;

// The reply to a network request: the network, the list, or the error
// (its code from NetworkError's kind, its message for people).
admin::Reply handle_network_request(NetworkManager& networks, const admin::Request& req);

}  // namespace pv::net
