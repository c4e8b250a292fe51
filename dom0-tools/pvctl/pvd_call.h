// One request to pvd the way every pvctl verb makes it, with pvctl's exit
// codes: 0 answered, 1 pvd refused (its message printed), 2 not sent (a
// string that is not UTF-8), 3 pvd unreachable, 4 / 5 a shutdown the guest
// did not acknowledge / that did not finish within --wait's timeout.
#pragma once
#include <cstdio>
#include <memory>
#include <string>

#include "admin_client.h"

namespace pv::pvctl {

// The exit status of a reply that carries an error.
inline int refusal_status(const admin::Reply& reply) {
  if (reply.error() == admin::ERROR_NOT_ACKNOWLEDGED) return 4;
  if (reply.error() == admin::ERROR_TIMEOUT) return 5;
  return 1;
}

// Connects (keeping the connection in `client`, for verbs that go on using
// it) and sends `req`; the answer is in `reply`.
inline int call_pvd(const std::string& socket, const admin::Request& req, std::unique_ptr<admin::AdminClient>& client,
                    admin::Reply& reply) {
  try {
    client = std::make_unique<admin::AdminClient>(socket);
    reply = client->call(req);
  } catch (const admin::AdminError& e) {
    if (e.kind() == admin::AdminError::Kind::kBadRequest) {
      std::fprintf(stderr, "pvctl: %s\n", e.what());
      return 2;
    }
    const bool unreachable = e.kind() == admin::AdminError::Kind::kUnreachable;
    std::fprintf(stderr, "pvctl: %s%s\n", e.what(), unreachable ? " (is pvd running? set --socket or PV_SOCKET)" : "");
    return 3;
  }
  if (reply.error() != admin::ERROR_NONE) {
    std::fprintf(stderr, "pvctl: %s\n", reply.message().c_str());
    return refusal_status(reply);
  }
  return 0;
}

// call_pvd for a verb whose reply may carry pvd's warnings (a message on
// a reply that succeeded, e.g. create's overcommit): they go to stderr.
inline int call_pvd_verb(const std::string& socket, const admin::Request& req,
                         std::unique_ptr<admin::AdminClient>& client, admin::Reply& reply) {
  if (const int rc = call_pvd(socket, req, client, reply)) return rc;
  if (!reply.message().empty()) std::fprintf(stderr, "pvctl: %s\n", reply.message().c_str());
  return 0;
}
inline int call_pvd_verb(const std::string& socket, const admin::Request& req, admin::Reply& reply) {
  std::unique_ptr<admin::AdminClient> client;
  return call_pvd_verb(socket, req, client, reply);
}

}  // namespace pv::pvctl
