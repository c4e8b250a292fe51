// Where guest console output goes: pv-hv's stdout (pvd's console log), a
// history of the last kConsoleHistoryBytes, and every client attached to
// the console socket. A new client first receives the history, then live
// output, with no gap and nothing twice between them. Writers are vCPU
// threads; a slow client never blocks them: what its socket cannot take
// waits in its backlog (at most kConsoleHistoryBytes, the oldest dropped).
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "console/byte_ring.h"
#include "pv/unique_fd.h"

namespace pv {

// 1 MiB, the buffer libxl asks xenconsoled to keep per domain
// (console/limit = LIBXL_XENCONSOLE_LIMIT). Unlike xenconsoled, which
// replays only output no client has read, every new client gets it all.
inline constexpr size_t kConsoleHistoryBytes = 1024 * 1024;

class ConsoleSink {
 public:
  explicit ConsoleSink(int out_fd);
  ~ConsoleSink();
  ConsoleSink(const ConsoleSink&) = delete;
  ConsoleSink& operator=(const ConsoleSink&) = delete;

  void write(std::string_view bytes);

  // Serves `path`: each client receives the history, then output from then
  // on, and what it sends goes to `input` (the console ring's input side).
  void serve(const std::string& path, std::function<void(std::string_view)> input);
  // Stops serving (joins the thread, disconnects the clients after one last
  // try at sending their backlog): after this no input is delivered.
  void stop();

  // The history, oldest first (what a client connecting now would get first).
  std::string history() const;

 private:
  struct Client;
  void run();
  void accept_client();
  void wake();

  int out_fd_;
  std::string path_;
  std::function<void(std::string_view)> input_;
  UniqueFd listen_fd_, wake_fd_;
  std::atomic<bool> stopping_{false};
  // Taken by every writer: the log, the history and the clients see one
  // order, and a client registered under it misses and repeats nothing.
  mutable std::mutex mu_;
  ByteRing history_{kConsoleHistoryBytes};
  std::vector<std::unique_ptr<Client>> clients_;
  std::thread thread_;
};

}  // namespace pv
