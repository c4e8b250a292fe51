// pvd runs one pv-backd, the back-end daemon for every domain's disks and
// network cards, and restarts it when it dies (after a short pause, longer
// if it keeps dying). pv-backd finds its devices in pvd's xenstore and its
// domains' back-end links in the state directory, so a restarted pv-backd
// picks up where the old one stopped; the guests' front-ends reconnect.
#pragma once
#include <sys/types.h>

#include "asio.h"
#include <chrono>
#include <memory>
#include <string>

#include "domain_process.h"

namespace pv::pvd {

class BackdSupervisor {
 public:
  BackdSupervisor(boost::asio::io_context& io, std::string pv_backd, std::string state_dir,
                  std::string xenstore_socket);
  ~BackdSupervisor();  // stops pv-backd

  void start();
  pid_t pid() const { return proc_ ? proc_->pid() : 0; }
  unsigned restarts() const { return restarts_; }

 private:
  void spawn();
  void on_exit();
  void kill_stale();  // a pv-backd left by a previous pvd

  boost::asio::io_context& io_;
  std::string binary_, state_dir_, xs_socket_, pid_file_, log_;
  std::unique_ptr<DomainProcess> proc_;
  boost::asio::steady_timer retry_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::milliseconds backoff_{100};
  unsigned restarts_ = 0;
  bool stopping_ = false;
};

}  // namespace pv::pvd
