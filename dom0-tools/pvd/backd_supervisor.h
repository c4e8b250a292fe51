// pvd runs one pv-backd, the back-end daemon for every domain's disks and
// network cards, and restarts it when it dies (after a short pause, longer
// if it keeps dying). pv-backd finds its devices in pvd's xenstore and its
// domains' back-end links in the state directory, so a restarted pv-backd
// picks up where the old one stopped; the guests' front-ends reconnect.
//
// pv-backd outlives pvd: it keeps serving I/O while pvd is down and
// reconnects to xenstored when it returns. So pvd leaves it running when it
// exits, and a new pvd adopts the live pv-backd named by
// <state-dir>/pv-backd.pid (its /proc/PID/cmdline must be a pv-backd of this
// state directory and xenstore socket) instead of starting another; only
// when none is alive does it start one.
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
  ~BackdSupervisor();  // leaves pv-backd running, for the next pvd to adopt

  // Adopts the pv-backd a previous pvd left running, or starts one.
  void start();
  pid_t pid() const { return proc_ ? proc_->pid() : 0; }
  bool adopted() const { return adopted_; }
  unsigned restarts() const { return restarts_; }

 private:
  enum class Found { kNone, kOurs, kOther };
  void spawn();
  void on_exit();
  // What the pid file names: a live pv-backd of ours (this state dir and
  // xenstore socket), one serving something else, or nothing alive.
  Found find_previous(pid_t& pid) const;

  boost::asio::io_context& io_;
  std::string binary_, state_dir_, xs_socket_, pid_file_, log_;
  std::unique_ptr<DomainProcess> proc_;
  boost::asio::steady_timer retry_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::milliseconds backoff_{100};
  unsigned restarts_ = 0;
  bool adopted_ = false;
  bool stopping_ = false;
};

}  // namespace pv::pvd
