// Sending one fixed-size message with one file descriptor attached
// (SCM_RIGHTS) over a Unix socket, and receiving it: the xenstore link's
// hello, on pv-hv's side and pvd's.
#pragma once
#include <sys/socket.h>

#include <cstring>

namespace pv::xslink {

template <typename T>
bool send_with_fd(int sock, const T& msg, int fd) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{const_cast<T*>(&msg), sizeof(T)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return ::sendmsg(sock, &mh, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(T));
}

// Returns the received descriptor (close-on-exec), or -1 when the message
// is short or carries no descriptor.
template <typename T>
int recv_with_fd(int sock, T& msg) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&msg, sizeof(T)};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof(control);
  if (::recvmsg(sock, &mh, MSG_CMSG_CLOEXEC) != static_cast<ssize_t>(sizeof(T))) return -1;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
    return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

}  // namespace pv::xslink
