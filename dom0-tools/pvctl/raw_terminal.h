// The terminal of `pvctl console` while it is attached: input raw (every
// key goes to the guest as typed, no echo, no line editing, no signals),
// output still post-processed so that a guest's bare "\n" returns the
// carriage (OPOST|ONLCR). Restored when it goes.
#pragma once
#include <termios.h>

namespace pv::pvctl {

class RawTerminal {
 public:
  // Sets up the terminal `fd` when it is one; otherwise changes nothing
  // (active() is false).
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  bool active() const { return active_; }

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

}  // namespace pv::pvctl
