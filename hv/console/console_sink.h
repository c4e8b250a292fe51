// Where guest console output goes: pv-hv's stdout (pvd's console log) and
// every client attached to the console socket. Writers are vCPU threads;
// a slow client never blocks them (output it cannot take is dropped).
#pragma once
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pv/unique_fd.h"

namespace pv {

class ConsoleSink {
 public:
  explicit ConsoleSink(int out_fd) : out_fd_(out_fd) {}
  ~ConsoleSink();
  ConsoleSink(const ConsoleSink&) = delete;
  ConsoleSink& operator=(const ConsoleSink&) = delete;

  void write(std::string_view bytes);

  // Serves `path`: clients receive output from now on, and what they send
  // goes to `input` (the console ring's input side).
  void serve(const std::string& path, std::function<void(std::string_view)> input);
  // Stops serving (joins the thread): after this no input is delivered.
  void stop();

 private:
  void run();

  int out_fd_;
  std::string path_;
  std::function<void(std::string_view)> input_;
  UniqueFd listen_fd_, wake_fd_;
  std::mutex mu_;
  std::vector<UniqueFd> clients_;
  std::thread thread_;
};

}  // namespace pv
