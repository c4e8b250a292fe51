#include "xslink/xenstore_link.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "pv/error.h"
#include "pv/unix_socket.h"
#include "pv/fd_passing.h"

namespace pv {

XenstoreLink::XenstoreLink(const std::string& socket_path, int memfd, const xslink::LinkHello& hello,
                           std::function<void()> raise_guest)
    : path_(socket_path), memfd_(memfd), hello_(hello), raise_guest_(std::move(raise_guest)) {
  listen_fd_ = listen_unix(path_, "--xenstore-socket");
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

void XenstoreLink::accept_server() {
  UniqueFd fd = accept_trusted(listen_fd_.get());  // only root or our user may serve our xenstore
  if (!fd || !send_with_fds(fd.get(), hello_, {memfd_})) return;
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
