#include "console/console_sink.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "console/console_ring.h"
#include "pv/error.h"
#include "pv/unix_socket.h"

namespace pv {

ConsoleSink::~ConsoleSink() { stop(); }

void ConsoleSink::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof(one)) < 0) std::perror("pv-hv: eventfd");
  thread_.join();
  ::unlink(path_.c_str());
}

void ConsoleSink::write(std::string_view bytes) {
  write_all(out_fd_, bytes);
  std::lock_guard lk(mu_);
  for (auto& c : clients_)
    if (c) ::send(c.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void ConsoleSink::serve(const std::string& path, std::function<void(std::string_view)> input) {
  path_ = path;
  input_ = std::move(input);
  listen_fd_ = listen_unix(path, "--console-socket");
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!wake_fd_) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "pv-console");
}

void ConsoleSink::run() {
  for (;;) {
    std::vector<pollfd> fds = {{wake_fd_.get(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}};
    {
      std::lock_guard lk(mu_);
      for (auto& c : clients_) fds.push_back({c.get(), POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) {
      if (UniqueFd c = accept_trusted(listen_fd_.get())) {
        std::lock_guard lk(mu_);
        clients_.push_back(std::move(c));
      }
    }
    for (size_t i = 2; i < fds.size(); i++) {
      if (!fds[i].revents) continue;
      char buf[256];
      const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        input_(std::string_view(buf, static_cast<size_t>(n)));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        std::lock_guard lk(mu_);
        std::erase_if(clients_, [&](const UniqueFd& f) { return f.get() == fds[i].fd; });
      }
    }
  }
}

}  // namespace pv
