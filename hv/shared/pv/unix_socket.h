// Unix stream sockets that pv-hv serves to pvd (xenstore link, console).
#pragma once
#include <sys/socket.h>

#include <string>

#include "pv/unique_fd.h"

namespace pv {

// Listens on `path` (replacing a stale socket file), mode 0600. Throws
// with `what` in the message on failure.
UniqueFd listen_unix(const std::string& path, const std::string& what, int type = SOCK_STREAM);

// Accepts one connection, keeping it only when the peer is root or our own
// user; otherwise returns an empty fd.
UniqueFd accept_trusted(int listen_fd);

}  // namespace pv
