// pvd's end of a save op on a pv-hv's control socket (pv/control_protocol.h,
// ops 80..89), without blocking pvd's loop: pv-hv answers twice, first
// kArmed once it waits for the guest's suspend (pvd then writes
// control/shutdown = suspend: the guest reads it from pvd's own xenstored,
// so pvd must keep serving meanwhile), then the final status.
#pragma once
#include "asio.h"
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pv/control_protocol.h"
#include "pv/unique_fd.h"
#include "registry.pb.h"

namespace pv::pvd {

class SaveCall : public std::enable_shared_from_this<SaveCall> {
 public:
  using ArmedFn = std::function<void()>;
  // kCheckpointToFileHeld: the stream is written and the guest held until
  // release() (pvctl snapshot-create freezes the disks meanwhile).
  using WrittenFn = std::function<void()>;
  // `status`: pv-hv's final one (0 or a negative errno); `lost`: why there is
  // none (pv-hv closed the socket, ended, or answered garbage), else empty.
  using DoneFn = std::function<void(int32_t status, const std::string& lost)>;

  // Sends the request with `fds` (SCM_RIGHTS). Throws SystemError when
  // pv-hv cannot be reached; otherwise exactly one `done` follows (and
  // `armed` before it, when pv-hv armed), from the io_context.
  static std::shared_ptr<SaveCall> start(boost::asio::io_context& io, const std::string& socket_path, ctl::Op op,
                                         uint64_t value, const std::vector<int>& fds, ArmedFn armed, DoneFn done,
                                         WrittenFn written = nullptr);
  // After `written`: lets the guest go on (ctl::Op::kRelease). False when
  // pv-hv cannot be told (it then lets the guest go by itself).
  bool release();

 private:
  SaveCall(boost::asio::io_context& io, int fd, ArmedFn armed, DoneFn done, WrittenFn written);
  void await_reply();

  boost::asio::posix::stream_descriptor sock_;
  ArmedFn armed_;
  DoneFn done_;
  WrittenFn written_;
};

// The toolstack's part of a save stream's configuration record (sent with
// the save op as a memfd): the domain's name, uuid and xl.cfg text, and
// the changes pvd made since (mem-set, mem-max, vcpu-set, sched-credit).
// Throws UserError when it is too long, SystemError.
UniqueFd toolstack_record(const registry::DomainRecord& rec);
// fsync of the directory holding `path` (a rename made durable).
bool sync_dir_of(const std::string& path);

}  // namespace pv::pvd
