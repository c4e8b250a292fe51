#include "xslink/xenstore_link.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "util/error.h"

namespace pv {

XenstoreLink::XenstoreLink(const std::string& socket_path, int memfd, const xslink::LinkHello& hello,
                           std::function<void()> raise_guest)
    : path_(socket_path), memfd_(memfd), hello_(hello), raise_guest_(std::move(raise_guest)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) throw UserError("--xenstore-socket: path too long: " + path_);
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throw_errno("socket(xenstore link)");
  ::unlink(path_.c_str());
  const mode_t old = ::umask(0177);
  const int rc = ::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc < 0 || ::listen(listen_fd_.get(), 2) < 0) throw_errno("cannot listen on " + path_);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!wake_fd_) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "pv-xslink");
}

XenstoreLink::~XenstoreLink() {
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof(one)) < 0) std::perror("pv-hv: eventfd");
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

void XenstoreLink::guest_kicked() {
  std::lock_guard lk(mu_);
  if (!client_fd_) {
    kick_pending_ = true;  // delivered when xenstored connects
    return;
  }
  const char bell = 'k';
  // EAGAIN means doorbells are already queued: this one coalesces.
  ::send(client_fd_.get(), &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

bool XenstoreLink::send_hello(int fd) {
  char control[CMSG_SPACE(sizeof(int))] = {};
  iovec iov{&hello_, sizeof(hello_)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &memfd_, sizeof(int));
  return ::sendmsg(fd, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof(hello_));
}

void XenstoreLink::accept_server() {
  UniqueFd fd(::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != 0 && cred.uid != ::geteuid()))
    return;  // only root or our own user may serve our xenstore
  if (!send_hello(fd.get())) return;
  std::lock_guard lk(mu_);
  client_fd_ = std::move(fd);  // replaces an earlier xenstored
  if (std::exchange(kick_pending_, false)) {
    const char bell = 'k';
    ::send(client_fd_.get(), &bell, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
}

void XenstoreLink::run() {
  for (;;) {
    int client;
    {
      std::lock_guard lk(mu_);
      client = client_fd_.get();
    }
    pollfd fds[3] = {{wake_fd_.get(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}, {client, POLLIN, 0}};
    if (::poll(fds, client >= 0 ? 3 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("pv-hv: xenstore link poll");
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) accept_server();
    if (client >= 0 && fds[2].revents) {
      char buf[64];
      const ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        raise_guest_();
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        std::lock_guard lk(mu_);
        if (client_fd_.get() == client) client_fd_.reset();  // xenstored went away; wait for the next one
      }
    }
  }
}

}  // namespace pv
