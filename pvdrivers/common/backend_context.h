// What every back-end device gets from pv-backd: the xenstore connection,
// the link to its domain's pv-hv, and a way to run work on the manager
// thread (the only thread that changes device state).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "common/domain_link.h"
#include "common/xs_client.h"

namespace pv::backd {

// The domain's pv-hv is not reachable (yet): the device retries later.
class LinkUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct BackendContext {
  XsClient& xs;
  // The domain's back-end link, connecting on first use; throws when its
  // pv-hv cannot be reached (LinkUnavailable: the device retries).
  std::function<std::shared_ptr<DomainLink>(uint32_t domid)> link;
  // Runs `fn` on the manager thread soon (thread-safe).
  std::function<void(std::function<void()>)> post;
};

}  // namespace pv::backd
