// One running pv-hv: spawned in its own session (so it outlives pvd), its
// console appended to a log file, and watched through a pidfd so pvd learns
// when it exits even when a restarted pvd is not its parent.
#pragma once
#include <sys/types.h>

#include "asio.h"
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pv::pvd {

class DomainProcess {
 public:
  using ExitFn = std::function<void()>;
  // Whether pv-hv built the domain (kernel and ramdisk loaded, vCPUs
  // created) and, when not, pv-hv's reason.
  using ReadyFn = std::function<void(bool built, const std::string& why)>;

  // Starts `argv` with stdout/stderr appended to `log_path`. With
  // `on_ready`, pv-hv gets --ready-fd and `on_ready` runs once it has
  // reported (or exited without reporting).
  static std::unique_ptr<DomainProcess> spawn(boost::asio::io_context& io, std::vector<std::string> argv,
                                              const std::string& log_path, ExitFn on_exit, ReadyFn on_ready = {});
  // Watches an already running pv-hv (after a pvd restart); nullptr when
  // `pid` is gone.
  static std::unique_ptr<DomainProcess> attach(boost::asio::io_context& io, pid_t pid, ExitFn on_exit);
  ~DomainProcess();

  pid_t pid() const { return pid_; }
  bool signal(int sig);
  double cpu_seconds() const;  // user + system time of all its threads

 private:
  struct ReadyReader;

  DomainProcess(boost::asio::io_context& io, pid_t pid, int pidfd, bool child, ExitFn on_exit);
  void watch();

  pid_t pid_;
  bool child_;
  boost::asio::posix::stream_descriptor pidfd_;
  ExitFn on_exit_;
  bool exited_ = false;
  std::shared_ptr<ReadyReader> ready_;  // until pv-hv reported its build
};

}  // namespace pv::pvd
