// pvd's end of a pv-hv's control socket (pv/control_protocol.h): one
// request, one reply, at most a second's wait. Throws SystemError when
// pv-hv cannot be reached or does not answer.
#pragma once
#include <chrono>
#include <string>

#include "pv/control_protocol.h"
#include "pv/unique_fd.h"

namespace pv::pvd {

// A connection to pv-hv's control socket; throws when it cannot be reached.
UniqueFd connect_domain_control(const std::string& socket_path);

ctl::Reply call_domain_control(const std::string& socket_path, ctl::Op op, uint64_t value = 0,
                               std::chrono::milliseconds timeout = std::chrono::seconds(1));

}  // namespace pv::pvd
