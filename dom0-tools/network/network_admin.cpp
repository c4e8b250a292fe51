#include "network/network_admin.h"

#include "network/network_error.h"
#include "pv/error.h"
#include "network/network_manager.h"
#include "network/network_store.h"

namespace pv::net {
namespace {

admin::ErrorCode code_of(NetworkError::Kind kind) {
  switch (kind) {
    case NetworkError::Kind::kBadSpec: return admin::ERROR_BAD_REQUEST;
    case NetworkError::Kind::kExists: return admin::ERROR_EXISTS;
    case NetworkError::Kind::kNotFound: return admin::ERROR_NO_SUCH_NETWORK;
    case NetworkError::Kind::kInUse: return admin::ERROR_INVALID_STATE;
    case NetworkError::Kind::kSystem: return admin::ERROR_NETWORK;
  }
  return admin::ERROR_INTERNAL;
}

admin::Reply create(NetworkManager& networks, const admin::NetworkCreateRequest& c) {
  NetworkRequest req{c.name(), from_proto(c.mode()), c.subnet(), c.bridge(), {c.forwards().begin(), c.forwards().end()}};
  admin::Reply reply;
  *reply.mutable_network() = networks.create(req);
  return reply;
}

admin::Reply list(const NetworkManager& networks) {
  admin::Reply reply;
  auto* l = reply.mutable_networks();
  for (auto& info : networks.list()) *l->add_networks() = std::move(info);
  return reply;
}

}  // namespace

std::optional<admin::Reply> handle_network_request(NetworkManager& networks, const admin::Request& req) {
  if (!req.has_network_create() && !req.has_network_list() && !req.has_network_destroy()) return std::nullopt;
  try {
    if (req.has_network_create()) return create(networks, req.network_create());
    if (req.has_network_list()) return list(networks);
    networks.destroy(req.network_destroy().name());
    return admin::Reply{};
  } catch (const NetworkError& e) {
    admin::Reply reply;
    reply.set_error(code_of(e.kind()));
    reply.set_message(e.what());
    return reply;
  } catch (const SystemError& e) {  // the kernel refused (rtnetlink)
    admin::Reply reply;
    reply.set_error(code_of(NetworkError::Kind::kSystem));
    reply.set_message(e.what());
    return reply;
  } catch (const std::exception& e) {
    admin::Reply reply;
    reply.set_error(admin::ERROR_INTERNAL);
    reply.set_message(std::string("network request failed: ") + e.what());
    return reply;
  }
}

}  // namespace pv::net
