#include "belink/backend_link.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "pv/error.h"
#include "pv/fd_passing.h"
#include "pv/unix_socket.h"
#include "pv/log.h"

namespace pv {

BackendLink::BackendLink(const std::string& socket_path, uint32_t domid, const GuestMemory& mem,
                         GrantTable& gnttab, EventChannels& evtchn)
    : path_(socket_path), mem_(mem), gnttab_(gnttab), evtchn_(evtchn) {
  hello_ = belink::Hello{belink::kMagic, belink::kVersion, domid, 0, mem.size(), gnttab.shared_bytes()};
  listen_fd_ = listen_unix(path_, "backend socket", SOCK_SEQPACKET);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno("eventfd(backend link)");
  thread_ = std::thread([this] { run(); });
}

BackendLink::~BackendLink() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  drop_client(false);  // the domain is going away: nothing to report
  ::unlink(path_.c_str());
}

void BackendLink::run() {
  std::vector<pollfd> fds;
  std::vector<uint32_t> ports;
  for (;;) {
    fds.clear();
    ports.clear();
    fds.push_back({wake_fd_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    if (client_fd_) fds.push_back({client_fd_.get(), POLLIN, 0});
    {
      std::lock_guard lk(mu_);
      for (auto& [port, b] : bindings_) {
        fds.push_back({b.to_guest.get(), POLLIN, 0});
        ports.push_back(port);
      }
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("pv-hv: backend link poll");
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) accept_client();
    size_t first_port = 2;
    if (client_fd_ && fds.size() > 2 && fds[2].fd == client_fd_.get()) {
      first_port = 3;
      if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) serve_request();
    }
    for (size_t i = first_port; i < fds.size(); i++) {
      if (!(fds[i].revents & POLLIN)) continue;
      uint64_t n;
      if (::read(fds[i].fd, &n, sizeof n) != sizeof n) continue;
      std::lock_guard lk(mu_);
      auto it = bindings_.find(ports[i - first_port]);
      if (it != bindings_.end() && it->second.to_guest.get() == fds[i].fd)
        evtchn_.raise_host(it->first, it->second.token);
    }
  }
}

void BackendLink::accept_client() {
  UniqueFd fd = accept_trusted(listen_fd_.get());
  if (!fd) return;
  drop_client();  // a new pv-backd replaces the old one
  // Nothing can be in use by a back-end that just connected.
  gnttab_.release_backend_pins();
  const std::vector<int> fds{mem_.fd(), gnttab_.shared_fd()};
  if (!send_with_fds(fd.get(), hello_, fds)) return;
  client_fd_ = std::move(fd);
}

void BackendLink::drop_client(bool report) {
  if (!client_fd_) return;
  client_fd_.reset();
  std::map<uint32_t, Binding> old;
  {
    std::lock_guard lk(mu_);
    old.swap(bindings_);
  }
  for (auto& [port, b] : old) evtchn_.unbind_host(port, b.token);
  const uint32_t held = gnttab_.release_backend_pins();
  if (held && report) pv::log::warning("back-end went away holding " + std::to_string(held) + " grants; released");
}

void BackendLink::serve_request() {
  belink::Request req{};
  std::vector<UniqueFd> fds;
  const ssize_t n = recv_with_fds(client_fd_.get(), req, fds);
  if (n <= 0) {
    drop_client();
    return;
  }
  belink::Reply rep{req.op, -xen::XEN_EINVAL, req.cookie};
  if (n != sizeof req) {
    rep.status = -xen::XEN_EINVAL;
  } else if (req.op == belink::Op::kBindEvtchn) {
    rep.status = fds.size() == 2 ? bind(req.port, std::move(fds[0]), std::move(fds[1])) : -xen::XEN_EINVAL;
  } else if (req.op == belink::Op::kUnbindEvtchn) {
    unbind(req.port);
    rep.status = 0;
  }
  if (!send_with_fds(client_fd_.get(), rep, {})) drop_client();
}

int32_t BackendLink::bind(uint32_t port, UniqueFd to_guest, UniqueFd from_guest) {
  {
    std::lock_guard lk(mu_);
    if (bindings_.count(port)) return -xen::XEN_EBUSY;
  }
  auto notify = std::make_shared<UniqueFd>(std::move(from_guest));
  int32_t token = -1;
  const int64_t rc = evtchn_.bind_host(
      port,
      [notify] {
        const uint64_t one = 1;
        (void)!::write(notify->get(), &one, sizeof one);
      },
      token);
  if (rc < 0) return static_cast<int32_t>(rc);
  std::lock_guard lk(mu_);
  bindings_[port] = Binding{token, std::move(to_guest), std::move(notify)};
  return 0;
}

void BackendLink::unbind(uint32_t port) {
  Binding b;
  {
    std::lock_guard lk(mu_);
    auto it = bindings_.find(port);
    if (it == bindings_.end()) return;
    b = std::move(it->second);
    bindings_.erase(it);
  }
  evtchn_.unbind_host(port, b.token);
}

}  // namespace pv
