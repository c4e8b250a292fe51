// One fixed-size message with file descriptors attached (SCM_RIGHTS) over
// a Unix socket, both ways. Used by the host-internal links (xenstore link,
// back-end link).
#pragma once
#include <sys/socket.h>

#include <cstring>
#include <vector>

#include "pv/unique_fd.h"

namespace pv {

inline constexpr size_t kMaxPassedFds = 4;

template <typename T>
bool send_with_fds(int sock, const T& msg, const std::vector<int>& fds) {
  if (fds.size() > kMaxPassedFds) return false;
  char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  iovec iov{const_cast<T*>(&msg), sizeof(T)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (!fds.empty()) {
    mh.msg_control = control;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  return ::sendmsg(sock, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(T));
}

// Receives one message and the descriptors attached to it (close-on-exec,
// owned by `fds`). Returns the bytes received (0 at end of stream, -1 on
// error); a message of another size than T is the caller's to refuse.
template <typename T>
ssize_t recv_with_fds(int sock, T& msg, std::vector<UniqueFd>& fds) {
  char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)] = {};
  iovec iov{&msg, sizeof(T)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  fds.clear();
  const ssize_t n = ::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  if (n < 0) return -1;
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds.emplace_back(fd);
    }
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return -1;
  return n;
}

}  // namespace pv
