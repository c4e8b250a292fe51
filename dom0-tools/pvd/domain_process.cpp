#include "domain_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pv/error.h"
#include "pv/unique_fd.h"

extern char** environ;

namespace pv::pvd {
namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// pv-hv's --ready-fd: the descriptor number it gets in the child.
constexpr int kReadyFd = 3;

}  // namespace

// Reads pv-hv's one build report ("built" or "failed <why>") to its end.
// Shared with its own pending read, so it outlives a DomainProcess that
// goes first (cancel() drops the callback).
struct DomainProcess::ReadyReader : std::enable_shared_from_this<ReadyReader> {
  ReadyReader(boost::asio::io_context& io, UniqueFd fd, ReadyFn fn) : pipe(io, fd.release()), on_ready(std::move(fn)) {}

  void read() {
    pipe.async_read_some(boost::asio::buffer(chunk), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                                  size_t n) {
      if (!ec && self->text.size() < 4096) {
        self->text.append(self->chunk.data(), n);
        return self->read();
      }
      if (ec == boost::asio::error::operation_aborted || !self->on_ready) return;
      auto fn = std::exchange(self->on_ready, {});
      const std::string line = self->text.substr(0, self->text.find('\n'));
      if (line == "built") fn(true, "");
      else if (line.rfind("failed ", 0) == 0) fn(false, line.substr(7));
      else fn(false, "pv-hv exited before the domain was built (its log is the domain's console log)");
      if (auto exited = std::exchange(self->after, {})) exited();
    });
  }
  void cancel() {
    on_ready = {};
    after = {};
    boost::system::error_code ec;
    pipe.close(ec);
  }

  boost::asio::posix::stream_descriptor pipe;
  ReadyFn on_ready;
  // pv-hv exited before its report was read: its exit is told after it.
  std::function<void()> after;
  std::array<char, 512> chunk{};
  std::string text;
};

std::unique_ptr<DomainProcess> DomainProcess::spawn(boost::asio::io_context& io, std::vector<std::string> argv,
                                                    const std::string& log_path, ExitFn on_exit, ReadyFn on_ready) {
  UniqueFd log(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log) throw_errno("cannot open " + log_path);
  UniqueFd ready_read, ready_write;
  if (on_ready) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw_errno("pipe2");
    ready_read.reset(p[0]);
    ready_write.reset(p[1]);
    argv.insert(argv.end(), {"--ready-fd", std::to_string(kReadyFd)});
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, log.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, log.get(), 2);
  if (ready_write) posix_spawn_file_actions_adddup2(&fa, ready_write.get(), kReadyFd);
  // Nothing else of pvd's: Asio's sockets are not close-on-exec, and a
  // pv-hv holding pvd's listening sockets would keep them alive after pvd
  // died (a restarted pvd would find "another xenstored" listening).
  posix_spawn_file_actions_addclosefrom_np(&fa, ready_write ? kReadyFd + 1 : kReadyFd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: a pvd that dies (even by SIGKILL) takes no domain along.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  log.reset();
  ready_write.reset();  // pv-hv holds the only write end: EOF when it reported or died
  if (rc != 0) throw SystemError("cannot start " + argv[0], rc);
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    throw SystemError("pidfd_open", err);
  }
  std::unique_ptr<DomainProcess> proc(new DomainProcess(io, pid, pidfd, true, std::move(on_exit)));
  if (on_ready) {
    proc->ready_ = std::make_shared<ReadyReader>(io, std::move(ready_read), std::move(on_ready));
    proc->ready_->read();
  }
  return proc;
}

std::unique_ptr<DomainProcess> DomainProcess::attach(boost::asio::io_context& io, pid_t pid, ExitFn on_exit) {
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) return nullptr;
  return std::unique_ptr<DomainProcess>(new DomainProcess(io, pid, pidfd, false, std::move(on_exit)));
}

DomainProcess::DomainProcess(boost::asio::io_context& io, pid_t pid, int pidfd, bool child, ExitFn on_exit)
    : pid_(pid), child_(child), pidfd_(io, pidfd), on_exit_(std::move(on_exit)) {
  watch();
}

DomainProcess::~DomainProcess() {
  if (ready_) ready_->cancel();
  boost::system::error_code ec;
  pidfd_.cancel(ec);
  if (child_ && !exited_) ::waitpid(pid_, nullptr, WNOHANG);
}

void DomainProcess::watch() {
  // A pidfd becomes readable when the process exits.
  pidfd_.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the DomainProcess is going away
    exited_ = true;
    if (child_) ::waitpid(pid_, nullptr, 0);  // reap; the status file says how it ended
    if (ready_ && ready_->on_ready) {  // the build report first, then the exit
      ready_->after = [this] {
        if (on_exit_) on_exit_();
      };
      return;
    }
    if (on_exit_) on_exit_();
  });
}

bool DomainProcess::signal(int sig) {
  return !exited_ && ::syscall(SYS_pidfd_send_signal, pidfd_.native_handle(), sig, nullptr, 0) == 0;
}

double DomainProcess::cpu_seconds() const {
  std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), {});
  const size_t close_paren = stat.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close_paren + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  // Fields after "(comm)": state is field 3; utime and stime are 14 and 15.
  for (int i = 3; i <= 15 && rest >> field; i++) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace pv::pvd
