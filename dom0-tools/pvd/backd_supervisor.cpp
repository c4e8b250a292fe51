#include "backd_supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "pv/log.h"
#include "pv/process_args.h"

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
  proc_.reset();  // no signal: pv-backd serves on, and the pid file names it
}

BackdSupervisor::Found BackdSupervisor::find_previous(pid_t& pid) const {
  std::ifstream f(pid_file_);
  if (!(f >> pid) || pid <= 0) return Found::kNone;
  const auto args = process_args(pid);
  // Not a pv-backd of this state directory (a reused pid): not ours to touch.
  if (args.empty() || std::filesystem::path(args[0]).filename() != "pv-backd" ||
      !has_option(args, "--state-dir", state_dir_))
    return Found::kNone;
  return has_option(args, "--xenstore-socket", xs_socket_) ? Found::kOurs : Found::kOther;
}

void BackdSupervisor::start() {
  pid_t pid = 0;
  switch (find_previous(pid)) {
    case Found::kOurs:
      if ((proc_ = DomainProcess::attach(io_, pid, [this] { on_exit(); }))) {
        adopted_ = true;
        started_ = std::chrono::steady_clock::now();
        log::info("adopted pv-backd " + std::to_string(pid) + " left by a previous pvd (its devices kept serving)");
        return;
      }
      break;  // exited meanwhile
    case Found::kOther:
      if (auto old = DomainProcess::attach(io_, pid, nullptr)) {
        log::info("stopping pv-backd " + std::to_string(pid) + ": it serves another xenstore socket");
        old->signal(SIGKILL);
      }
      break;
    case Found::kNone: break;
  }
  spawn();
}

void BackdSupervisor::spawn() {
  if (stopping_) return;
  proc_ = DomainProcess::spawn(io_, {binary_, "--xenstore-socket", xs_socket_, "--state-dir", state_dir_}, log_,
                               [this] { on_exit(); });
  started_ = std::chrono::steady_clock::now();
  adopted_ = false;
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
