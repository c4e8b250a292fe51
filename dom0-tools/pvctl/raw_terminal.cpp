#include "raw_terminal.h"

#include <unistd.h>

namespace pv::pvctl {

// Why output processing rather than translating "\n" to "\r\n" ourselves:
// the guest's bytes pass through pvctl untouched, and only the terminal
// (the tty driver's ONLCR) adds the carriage return, so output that is
// not a terminal (a pipe, a file) stays byte-exact with no check of ours,
// a "\r\n" split across two reads needs no state, and a guest that sends
// "\r\n" itself (Linux's hvc console does) just gets a harmless extra CR.
// Input stays raw as xl's console makes it (cfmakeraw): keys, Ctrl-C and
// Ctrl-] included, reach pvctl as typed.
RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (!::isatty(fd_) || ::tcgetattr(fd_, &saved_) != 0) return;
  termios raw = saved_;
  ::cfmakeraw(&raw);
  // Only NL -> CR NL: no tab expansion, no CR -> NL (OCRNL would turn the
  // guest's own carriage returns into new lines), no fill delays.
  raw.c_oflag = OPOST | ONLCR;
  active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
}

RawTerminal::~RawTerminal() {
  if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
}

}  // namespace pv::pvctl
