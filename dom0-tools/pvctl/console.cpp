#include "console.h"

#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace pv::pvctl {
namespace {

constexpr char kDetach = 0x1d;  // Ctrl-], as xl console and virsh console

bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Raw mode for as long as it lives (when stdin is a terminal).
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(0) || ::tcgetattr(0, &saved_) != 0) return;
    termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(0, TCSANOW, &saved_);
  }

 private:
  termios saved_{};
  bool active_ = false;
};

}  // namespace

int run_console(int fd, const std::string& early) {
  std::fprintf(stderr, "Connected to the domain console. Escape character is ^]\n");
  write_all(1, early);
  RawTerminal raw;
  bool stdin_open = true;
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {0, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;  // the domain ended or pvd went away
      write_all(1, std::string_view(buf, static_cast<size_t>(n)));
    }
    if (stdin_open && fds[1].revents) {
      const ssize_t n = ::read(0, buf, sizeof buf);
      if (n <= 0) {
        stdin_open = false;  // keep showing output
        continue;
      }
      std::string_view in(buf, static_cast<size_t>(n));
      const size_t esc = in.find(kDetach);
      if (!write_all(fd, in.substr(0, esc))) break;
      if (esc != std::string_view::npos) return 0;  // detached; the domain runs on
    }
  }
  return 0;
}

}  // namespace pv::pvctl
