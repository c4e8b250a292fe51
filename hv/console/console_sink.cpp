#include "console/console_sink.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "console/console_ring.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/unix_socket.h"

namespace pv {

// One attached client. Its fields are guarded by ConsoleSink::mu_; only
// the sink's thread adds, reads from and removes clients.
struct ConsoleSink::Client {
  explicit Client(UniqueFd f) : fd(std::move(f)) {}

  // Sends what it can of the backlog without blocking; false once the
  // connection is broken.
  bool flush() {
    while (!backlog.empty()) {
      const std::string_view chunk = backlog.front();
      const ssize_t n = ::send(fd.get(), chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n <= 0) {
        broken = true;
        return false;
      }
      backlog.consume(static_cast<size_t>(n));
    }
    return true;
  }

  // Live output: straight to the socket while nothing is waiting, else
  // behind what is. True when the backlog has just become non-empty (the
  // sink's thread must now wait for the socket to take more).
  bool offer(std::string_view bytes) {
    if (broken) return false;
    const bool was_empty = backlog.empty();
    while (was_empty && !bytes.empty()) {
      const ssize_t n = ::send(fd.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        broken = true;
        return true;  // the thread removes it
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    if (bytes.empty()) return false;
    keep(bytes);
    return was_empty;
  }

  void keep(std::string_view bytes) {
    const size_t lost = backlog.append(bytes);
    if (lost && !reported_loss) {
      reported_loss = true;  // once per client: the guest can print a lot
      log::warning("a console client is not reading: its oldest unsent output is dropped (it keeps the last " +
                   std::to_string(kConsoleHistoryBytes / 1024) + " KiB)");
    }
  }

  UniqueFd fd;
  ByteRing backlog{kConsoleHistoryBytes};
  bool broken = false;
  bool reported_loss = false;
};

ConsoleSink::ConsoleSink(int out_fd) : out_fd_(out_fd) {}
ConsoleSink::~ConsoleSink() { stop(); }

void ConsoleSink::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
  {
    std::lock_guard lk(mu_);
    for (auto& c : clients_) c->flush();  // the domain's last words, if the socket takes them
    clients_.clear();
  }
  ::unlink(path_.c_str());
}

void ConsoleSink::wake() {
  const uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof(one)) < 0 && errno != EAGAIN)
    log::error(std::string("console: eventfd: ") + std::strerror(errno));
}

void ConsoleSink::write(std::string_view bytes) {
  if (bytes.empty()) return;
  std::lock_guard lk(mu_);
  write_all(out_fd_, bytes);
  history_.append(bytes);
  bool must_wake = false;
  for (auto& c : clients_) must_wake |= c->offer(bytes);
  if (must_wake) wake();
}

std::string ConsoleSink::history() const {
  std::lock_guard lk(mu_);
  return history_.contents();
}

void ConsoleSink::serve(const std::string& path, std::function<void(std::string_view)> input) {
  path_ = path;
  input_ = std::move(input);
  listen_fd_ = listen_unix(path, "--console-socket");
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "pv-console");
}

void ConsoleSink::accept_client() {
  UniqueFd fd = accept_trusted(listen_fd_.get());
  if (!fd) return;
  auto c = std::make_unique<Client>(std::move(fd));
  // Under the writers' lock: the history up to now, then (through offer())
  // every later byte.
  std::lock_guard lk(mu_);
  c->backlog.append(history_);
  c->flush();
  clients_.push_back(std::move(c));
}

void ConsoleSink::run() {
  std::vector<pollfd> fds;
  std::vector<Client*> polled;
  for (;;) {
    fds = {{wake_fd_.get(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}};
    polled.clear();
    {
      std::lock_guard lk(mu_);
      for (auto& c : clients_) {
        fds.push_back({c->fd.get(), static_cast<short>(POLLIN | (c->backlog.empty() ? 0 : POLLOUT)), 0});
        polled.push_back(c.get());
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::error(std::string("console: poll: ") + std::strerror(errno) + "; console clients are no longer served");
      return;
    }
    if (fds[0].revents) {
      uint64_t count;
      if (::read(wake_fd_.get(), &count, sizeof count) < 0 && errno != EAGAIN)
        log::error(std::string("console: eventfd: ") + std::strerror(errno));
      if (stopping_) return;
    }
    if (fds[1].revents & POLLIN) accept_client();
    std::vector<Client*> gone;
    for (size_t i = 0; i < polled.size(); i++) {
      Client* c = polled[i];
      const short ev = fds[i + 2].revents;
      if (ev & POLLOUT) {
        std::lock_guard lk(mu_);
        c->flush();  // marks it broken if the connection is
      }
      if (ev & (POLLIN | POLLHUP | POLLERR)) {
        char buf[256];
        const ssize_t n = ::recv(c->fd.get(), buf, sizeof buf, MSG_DONTWAIT);
        // Not under mu_: the input side takes the console ring's lock,
        // which a writer holds while it calls write().
        if (n > 0) input_(std::string_view(buf, static_cast<size_t>(n)));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR)) gone.push_back(c);
      }
    }
    std::lock_guard lk(mu_);
    std::erase_if(clients_, [&](const std::unique_ptr<Client>& c) {
      return c->broken || std::find(gone.begin(), gone.end(), c.get()) != gone.end();
    });
  }
}

}  // namespace pv
