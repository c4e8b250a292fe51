#include "pv/peer_credentials.h"

#include <sys/socket.h>
#include <unistd.h>

namespace pv {

std::optional<PeerCredentials> peer_credentials(int socket_fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    return std::nullopt;
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

bool is_trusted_peer(const PeerCredentials& peer) { return peer.uid == 0 || peer.uid == geteuid(); }

bool peer_is_trusted(int socket_fd) {
  const auto peer = peer_credentials(socket_fd);
  return peer && is_trusted_peer(*peer);
}

}  // namespace pv
