// Who is on the other end of a Unix socket (SO_PEERCRED), and whether the
// host daemons trust it. Every host-internal socket (pvd's admin socket,
// xenstored's dom0 socket, the sockets pv-hv serves) accepts only root or
// the user the daemon runs as.
#pragma once
#include <sys/types.h>

#include <optional>

namespace pv {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The peer of a connected Unix socket; nullopt if the kernel cannot say.
std::optional<PeerCredentials> peer_credentials(int socket_fd);

// Root or the user this process runs as.
bool is_trusted_peer(const PeerCredentials& peer);

// peer_credentials() and is_trusted_peer() in one: false when unknown.
bool peer_is_trusted(int socket_fd);

}  // namespace pv
