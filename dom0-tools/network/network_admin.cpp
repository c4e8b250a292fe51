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

admin::Reply error(admin::ErrorCode code, const std::string& message) {
  admin::Reply reply;
  reply.set_error(code);
  reply.set_message(message);
  return reply;
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

admin::Reply handle_network_request(NetworkManager& networks, const admin::Request& req) {
  try {
    switch (req.op_case()) {
      case admin::Request::kNetworkCreate: return create(networks, req.network_create());
      case admin::Request::kNetworkList: return list(networks);
      case admin::Request::kNetworkDestroy: networks.destroy(req.network_destroy().name()); return admin::Reply{};
      default: break;  // pvd routes nothing else here
    }
    return error(admin::ERROR_BAD_REQUEST, "not a network request");
  } catch (const NetworkError& e) {
    return error(code_of(e.kind()), e.what());
  } catch (const SystemError& e) {  // the kernel refused (rtnetlink)
    return error(code_of(NetworkError::Kind::kSystem), e.what());
  } catch (const std::exception& e) {
    return error(admin::ERROR_INTERNAL, std::string("network request failed: ") + e.what());
  }
}

}  // namespace pv::net
