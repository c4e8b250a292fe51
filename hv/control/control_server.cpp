#include "control/control_server.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "pv/error.h"
#include "pv/fd_passing.h"
#include "pv/log.h"
#include "pv/unix_socket.h"

namespace pv {

ControlServer::ControlServer(const std::string& socket_path, Reservation& reservation, uint32_t vcpus,
                             std::function<uint64_t()> vcpus_up, SaveOps save_ops)
    : path_(socket_path), reservation_(reservation), vcpus_(vcpus), vcpus_up_(std::move(vcpus_up)),
      save_ops_(std::move(save_ops)) {
  listen_fd_ = listen_unix(path_, "--control-socket", SOCK_SEQPACKET);
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC));
  if (!wake_fd_) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "pv-control");
}

ControlServer::~ControlServer() {
  uint64_t one = 1;
  if (::write(wake_fd_.get(), &one, sizeof one) < 0) log::warning(std::string("control: eventfd: ") + std::strerror(errno));
  if (thread_.joinable()) thread_.join();
  ::unlink(path_.c_str());
}

ctl::Reply ControlServer::handle(const ctl::Request& req) {
  ctl::Reply r{};
  r.magic = ctl::kMagic;
  if (req.magic != ctl::kMagic) {
    r.status = -EINVAL;
  } else if (req.op == static_cast<uint32_t>(ctl::Op::kSetMaxMemory)) {
    if (req.value == 0) r.status = -EINVAL;
    else reservation_.set_maximum(req.value);
  } else if (req.op != static_cast<uint32_t>(ctl::Op::kQueryMemory) &&
             req.op != static_cast<uint32_t>(ctl::Op::kQueryVcpus)) {
    r.status = -EINVAL;
  }
  r.current_pages = reservation_.current();
  r.maximum_pages = reservation_.maximum();
  r.ballooned_pages = reservation_.ballooned_out();
  r.ram_pages = reservation_.ram_pages();
  r.vcpus = vcpus_;
  r.vcpus_up = vcpus_up_ ? vcpus_up_() : 0;
  return r;
}

void ControlServer::serve(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 1000) != 1) return;  // a client that says nothing is dropped
  ctl::Request req{};
  std::vector<UniqueFd> fds;
  const ssize_t n = recv_with_fds(fd, req, fds);
  if (n != static_cast<ssize_t>(sizeof req)) return;
  const auto send_reply = [fd](const ctl::Reply& r) {
    if (::send(fd, &r, sizeof r, MSG_DONTWAIT | MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof r))
      log::warning(std::string("control: cannot answer: ") + std::strerror(errno));
  };
  ctl::Reply r = handle(req);
  if (req.magic == ctl::kMagic && req.op >= ctl::kFirstSaveOp && req.op <= ctl::kLastSaveOp && save_ops_) {
    SaveRequester requester{
        [&](int32_t status) {
          ctl::Reply interim = r;
          interim.status = status;
          send_reply(interim);
        },
        [fd] {
          pollfd hup{fd, POLLRDHUP, 0};
          return ::poll(&hup, 1, 0) == 1 && (hup.revents & (POLLRDHUP | POLLHUP | POLLERR));
        },
        [this, fd](std::chrono::milliseconds timeout) {
          // The server going (pv-hv ending) ends the wait too.
          pollfd in[2] = {{fd, POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
          if (::poll(in, 2, static_cast<int>(timeout.count())) < 1 || !(in[0].revents & POLLIN) || in[1].revents)
            return false;
          ctl::Request go{};
          return ::recv(fd, &go, sizeof go, MSG_DONTWAIT) == static_cast<ssize_t>(sizeof go) && go.magic == ctl::kMagic &&
                 go.op == static_cast<uint32_t>(ctl::Op::kRelease);
        },
        send_reply};
    r.status = save_ops_(req, fds, requester);
  }
  send_reply(r);
}

void ControlServer::run() {
  for (;;) {
    pollfd fds[2] = {{wake_fd_.get(), POLLIN, 0}, {listen_fd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error(std::string("control socket: poll: ") + std::strerror(errno));
      return;
    }
    if (fds[0].revents) return;
    if (fds[1].revents & POLLIN) {
      UniqueFd fd = accept_trusted(listen_fd_.get());  // root or our own user only
      if (fd) serve(fd.get());
    }
  }
}

}  // namespace pv
