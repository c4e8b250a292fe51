#include "save_call.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "domain_control.h"
#include "pv/error.h"
#include "pv/fd_passing.h"
#include "pv/unique_fd.h"

namespace pv::pvd {

std::shared_ptr<SaveCall> SaveCall::start(boost::asio::io_context& io, const std::string& socket_path, ctl::Op op,
                                          uint64_t value, const std::vector<int>& fds, ArmedFn armed, DoneFn done,
                                          WrittenFn written) {
  UniqueFd fd = connect_domain_control(socket_path);
  const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(op), value};
  if (!send_with_fds(fd.get(), req, fds)) throw_errno("control socket " + socket_path + ": send");
  std::shared_ptr<SaveCall> call(new SaveCall(io, fd.release(), std::move(armed), std::move(done), std::move(written)));
  call->await_reply();
  return call;
}

SaveCall::SaveCall(boost::asio::io_context& io, int fd, ArmedFn armed, DoneFn done, WrittenFn written)
    : sock_(io, fd), armed_(std::move(armed)), done_(std::move(done)), written_(std::move(written)) {}

bool SaveCall::release() {
  const ctl::Request go{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kRelease), 0};
  return ::send(sock_.native_handle(), &go, sizeof go, MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof go);
}

void SaveCall::await_reply() {
  sock_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [self = shared_from_this()](const boost::system::error_code& ec) {
                     if (ec) return self->done_(0, "waiting for pv-hv: " + ec.message());
                     ctl::Reply r{};
                     const ssize_t n = ::recv(self->sock_.native_handle(), &r, sizeof r, MSG_DONTWAIT);
                     if (n < 0 && (errno == EAGAIN || errno == EINTR)) return self->await_reply();
                     if (n < 0) return self->done_(0, std::string("reading pv-hv's answer: ") + std::strerror(errno));
                     if (n == 0) return self->done_(0, "pv-hv closed its control socket without an answer (did it end?)");
                     if (n != static_cast<ssize_t>(sizeof r) || r.magic != ctl::kMagic)
                       return self->done_(0, "pv-hv's answer is not a control reply");
                     if (r.status == ctl::kArmed) {
                       if (auto armed = std::exchange(self->armed_, nullptr)) armed();
                       return self->await_reply();
                     }
                     if (r.status == ctl::kWritten) {
                       if (auto written = std::exchange(self->written_, nullptr)) written();
                       else self->release();  // nobody holds it: the guest goes on
                       return self->await_reply();
                     }
                     self->done_(r.status, "");
                   });
}

}  // namespace pv::pvd
