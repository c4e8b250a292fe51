#include "console.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "raw_terminal.h"

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

}  // namespace

int run_console(int fd, const std::string& early, int in_fd, int out_fd) {
  std::fprintf(stderr, "Connected to the domain console. Escape character is ^]\n");
  RawTerminal raw(in_fd);
  write_all(out_fd, early);
  bool stdin_open = true;
  char buf[4096];
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {in_fd, static_cast<short>(stdin_open ? POLLIN : 0), 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    if (fds[0].revents) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;  // the domain ended or pvd went away
      if (!write_all(out_fd, std::string_view(buf, static_cast<size_t>(n)))) {
        std::fprintf(stderr, "pvctl: cannot write the console's output: %s\n", std::strerror(errno));
        return 1;
      }
    }
    if (stdin_open && fds[1].revents) {
      const ssize_t n = ::read(in_fd, buf, sizeof buf);
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
