#include "xenstore/peer_credentials.h"

#include <sys/socket.h>
#include <unistd.h>

namespace xenstore {

std::optional<PeerCredentials> peer_credentials(int socket_fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(socket_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof cred)
    return std::nullopt;
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

bool is_trusted_peer(const PeerCredentials& peer) { return peer.uid == 0 || peer.uid == geteuid(); }

}  // namespace xenstore
