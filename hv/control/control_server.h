// pv-hv's end of the control socket (pv/control_protocol.h): a small
// thread answers one request per connection from pvd, against the domain's
// Reservation (xl mem-max; the memory figures of pvctl info) and which
// vCPUs are up (pvctl vcpu-list).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "memory/reservation.h"
#include "pv/control_protocol.h"
#include "pv/unique_fd.h"

namespace pv {

class ControlServer {
 public:
  // The client of a save op, as its handler sees it.
  struct SaveRequester {
    // Sends an interim Reply with `status` (ctl::kArmed, ctl::kWritten).
    std::function<void(int32_t status)> interim;
    // True once the client has closed its end (pvd died), so a save nobody
    // will complete can be cancelled.
    std::function<bool()> gone;
    // Waits up to `timeout` for the client's Request with op kRelease:
    // false when it closed, sent something else, the time ran out, or the
    // server is being destroyed (pv-hv ending).
    std::function<bool(std::chrono::milliseconds timeout)> await_release;
    // Sends `reply` as an interim answer as it is (kMigrateLive's PassReport).
    std::function<void(const ctl::Reply& reply)> report;
  };
  // The save ops (ctl::kFirstSaveOp..kLastSaveOp): runs on the control
  // thread and returns the final status. `fds`: the descriptors sent with
  // the request (SCM_RIGHTS).
  using SaveOps = std::function<int32_t(const ctl::Request& req, std::vector<UniqueFd>& fds, SaveRequester& requester)>;

  // `vcpus_up`: bit N set while vCPU N is up; `vcpus`: how many there are.
  ControlServer(const std::string& socket_path, Reservation& reservation, uint32_t vcpus = 0,
                std::function<uint64_t()> vcpus_up = {}, SaveOps save_ops = nullptr);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // The answer to one request (public for tests).
  ctl::Reply handle(const ctl::Request& req);

 private:
  void run();
  void serve(int fd);

  std::string path_;
  Reservation& reservation_;
  const uint32_t vcpus_;
  const std::function<uint64_t()> vcpus_up_;
  SaveOps save_ops_;
  UniqueFd listen_fd_, wake_fd_;
  std::thread thread_;
};

}  // namespace pv
