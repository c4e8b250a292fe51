// pvctl console's terminal side, on a real pseudo-terminal (openpty): raw
// input, "\n" shown as "\r\n", the terminal restored afterwards; and the
// relay, byte-exact when its output is not a terminal.
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "console.h"
#include "raw_terminal.h"

namespace pv::pvctl {
namespace {

using namespace std::chrono_literals;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

struct Pty {
  Pty() {
    if (::openpty(&master.fd, &slave.fd, nullptr, nullptr, nullptr) != 0) throw std::runtime_error("openpty");
  }
  Fd master, slave;
};

void put(int fd, const std::string& s) { ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size())); }

// What arrives on `fd` until `n` bytes have or `quiet` passes with none.
std::string take(int fd, size_t n, std::chrono::milliseconds quiet = 5s) {
  std::string got;
  char buf[4096];
  while (got.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) break;
    const ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    got.append(buf, static_cast<size_t>(r));
  }
  return got;
}

termios attrs(int fd) {
  termios t{};
  EXPECT_EQ(::tcgetattr(fd, &t), 0);
  return t;
}

TEST(RawTerminal, InputRawOutputStillReturnsTheCarriageAndRestoredAfter) {
  Pty pty;
  const termios before = attrs(pty.slave.fd);
  ASSERT_TRUE(before.c_lflag & ICANON);  // a new pty is cooked
  ASSERT_TRUE(before.c_lflag & ECHO);
  {
    RawTerminal raw(pty.slave.fd);
    ASSERT_TRUE(raw.active());
    const termios t = attrs(pty.slave.fd);
    EXPECT_FALSE(t.c_lflag & (ICANON | ECHO | ISIG | IEXTEN));
    EXPECT_FALSE(t.c_iflag & (ICRNL | IXON));
    EXPECT_EQ(t.c_oflag, tcflag_t(OPOST | ONLCR));
    // Output: a bare "\n" returns the carriage; the guest's own "\r" stays.
    put(pty.slave.fd, "a\nb\r\nc");
    EXPECT_EQ(take(pty.master.fd, 8), "a\r\nb\r\r\nc");
    // Input: as typed (no CR -> NL, no line buffering, Ctrl-C a byte), no echo.
    put(pty.master.fd, std::string("x\ry\x03", 4));
    EXPECT_EQ(take(pty.slave.fd, 4), std::string("x\ry\x03", 4));
    EXPECT_EQ(take(pty.master.fd, 1, 200ms), "");
  }
  const termios after = attrs(pty.slave.fd);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
  EXPECT_EQ(after.c_cflag, before.c_cflag);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(after.c_cc), NCCS),
            std::string(reinterpret_cast<const char*>(before.c_cc), NCCS));
  // Cooked again: a typed line echoes.
  put(pty.master.fd, "ok\n");
  EXPECT_EQ(take(pty.master.fd, 4), "ok\r\n");
}

TEST(RawTerminal, LeavesWhatIsNotATerminalAlone) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  Fd r{p[0]}, w{p[1]};
  RawTerminal raw(r.fd);
  EXPECT_FALSE(raw.active());
}

// The relay with its output in a pipe: the guest's bytes, unchanged.
TEST(RunConsole, OutputThatIsNotATerminalIsByteExact) {
  int s[2], out[2], in[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  ASSERT_EQ(::pipe(out), 0);
  ASSERT_EQ(::pipe(in), 0);
  Fd console{s[0]}, guest{s[1]}, out_r{out[0]}, out_w{out[1]}, in_r{in[0]}, in_w{in[1]};
  ::close(in_w.fd);  // no input: the relay goes on showing output
  in_w.fd = -1;
  static const char kGuest[] = "one\ntwo\r\nthree\r\x1b[0m\0end\n";  // a NUL, an escape, lone CR and LF
  const std::string bytes(kGuest, sizeof kGuest - 1);
  put(guest.fd, bytes);
  ::close(guest.fd);  // the domain ended
  guest.fd = -1;
  EXPECT_EQ(run_console(console.fd, "early\n", in_r.fd, out_w.fd), 0);
  ::close(out_w.fd);
  out_w.fd = -1;
  EXPECT_EQ(take(out_r.fd, SIZE_MAX), "early\n" + bytes);
}

// The relay on a terminal: output with "\r\n", keys to the guest as typed,
// Ctrl-] detaches and the terminal is cooked again.
TEST(RunConsole, OnATerminalShowsLinesTakesKeysAndDetaches) {
  Pty pty;
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
  Fd console{s[0]}, guest{s[1]};
  auto relay = std::async(std::launch::async, [&] { return run_console(console.fd, "", pty.slave.fd, pty.slave.fd); });
  put(guest.fd, "hello\nworld\n");
  EXPECT_EQ(take(pty.master.fd, 14), "hello\r\nworld\r\n");
  put(pty.master.fd, "ls\r");
  EXPECT_EQ(take(guest.fd, 3), "ls\r");
  put(pty.master.fd, "q\x1d");  // what comes before Ctrl-] still goes
  ASSERT_EQ(relay.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(relay.get(), 0);
  EXPECT_EQ(take(guest.fd, 1), "q");
  EXPECT_TRUE(attrs(pty.slave.fd).c_lflag & ICANON);
}

}  // namespace
}  // namespace pv::pvctl
