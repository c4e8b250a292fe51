// Who is on the other end of a Unix socket (SO_PEERCRED).
#pragma once
#include <sys/types.h>

#include <optional>

namespace xenstore {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::optional<PeerCredentials> peer_credentials(int socket_fd);

// dom0 clients must be root or the user the daemon runs as.
bool is_trusted_peer(const PeerCredentials& peer);

}  // namespace xenstore
