// Runs a child process for end-to-end tests: captures stdout and stderr,
// enforces a deadline (the child is killed when it passes), and never
// leaves the child behind, even when the test fails.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace pvtest {

struct Result {
  int exit_code = -1;    // valid when !signaled
  bool signaled = false;
  int signal = 0;
  bool timed_out = false;
  std::string out, err;
};

class Process {
 public:
  explicit Process(const std::vector<std::string>& argv);
  ~Process();  // SIGKILLs and reaps a child still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  // Reads output until the child exits or `timeout` passes (then kills it).
  Result wait(std::chrono::milliseconds timeout);
  // Reads output until `needle` appears on stdout (or stderr); false on
  // exit/timeout.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout, bool on_stderr = false);
  void signal(int sig);

 private:
  bool pump(std::chrono::steady_clock::time_point deadline, const std::string* needle, bool on_stderr = false);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  Result result_;
  bool reaped_ = false;
};

// Runs argv to completion (or timeout).
Result run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace pvtest
