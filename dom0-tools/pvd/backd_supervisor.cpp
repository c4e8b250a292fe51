#include "backd_supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <fstream>

#include "pv/log.h"

namespace pv::pvd {

BackdSupervisor::BackdSupervisor(boost::asio::io_context& io, std::string pv_backd, std::string state_dir,
                                 std::string xenstore_socket)
    : io_(io),
      binary_(std::move(pv_backd)),
      state_dir_(std::move(state_dir)),
      xs_socket_(std::move(xenstore_socket)),
      pid_file_(state_dir_ + "/pv-backd.pid"),
      log_(state_dir_ + "/pv-backd.log"),
      retry_(io) {}

BackdSupervisor::~BackdSupervisor() {
  stopping_ = true;
  retry_.cancel();
  if (proc_) proc_->signal(SIGTERM);
  proc_.reset();
  ::unlink(pid_file_.c_str());
}

void BackdSupervisor::kill_stale() {
  std::ifstream f(pid_file_);
  pid_t pid = 0;
  if (!(f >> pid) || pid <= 0) return;
  std::ifstream c("/proc/" + std::to_string(pid) + "/cmdline");
  std::string cmd((std::istreambuf_iterator<char>(c)), {});
  if (cmd.find("pv-backd") == std::string::npos || cmd.find(state_dir_) == std::string::npos) return;
  log::info("stopping pv-backd " + std::to_string(pid) + " left by a previous pvd");
  auto old = DomainProcess::attach(io_, pid, nullptr);
  if (old) old->signal(SIGKILL);
}

void BackdSupervisor::start() {
  kill_stale();
  spawn();
}

void BackdSupervisor::spawn() {
  if (stopping_) return;
  proc_ = DomainProcess::spawn(io_, {binary_, "--xenstore-socket", xs_socket_, "--state-dir", state_dir_}, log_,
                               [this] { on_exit(); });
  started_ = std::chrono::steady_clock::now();
  std::ofstream(pid_file_) << proc_->pid() << "\n";
}

void BackdSupervisor::on_exit() {
  if (stopping_) return;
  log::warning("pv-backd (pid " + std::to_string(proc_ ? proc_->pid() : 0) + ") exited; restarting it");
  proc_.reset();
  // Quick restarts for a daemon that ran a while; backing off to 5 s for
  // one that dies at once again and again.
  if (std::chrono::steady_clock::now() - started_ > std::chrono::seconds(10)) backoff_ = std::chrono::milliseconds(100);
  else backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(5000));
  restarts_++;
  retry_.expires_after(backoff_);
  retry_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    try {
      spawn();
    } catch (const std::exception& e) {
      log::error(std::string("cannot restart pv-backd: ") + e.what());
      on_exit();
    }
  });
}

}  // namespace pv::pvd
