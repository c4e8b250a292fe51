// ConsoleSink: guest output to the log fd (a memfd here), its history, and
// clients on the real unix console socket.
#include "console/console_sink.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pv {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

UniqueFd connect_to(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  if (!fd || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
    throw std::runtime_error("cannot connect to " + path + ": " + std::strerror(errno));
  return fd;
}

// Reads from `fd` until `done(got)` or EOF or the timeout.
template <typename Done>
std::string read_until(int fd, Done done, std::chrono::milliseconds timeout = 20s) {
  std::string got;
  const auto deadline = Clock::now() + timeout;
  char buf[65536];
  while (!done(got)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    // In slices: `done` may change its mind while nothing arrives.
    if (::poll(&p, 1, static_cast<int>(std::min<long>(left, 50))) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}
std::string read_size(int fd, size_t n) {
  return read_until(fd, [n](const std::string& s) { return s.size() >= n; });
}

class ConsoleSinkTest : public ::testing::Test {
 protected:
  ConsoleSinkTest() {
    char tmpl[] = "/tmp/console-sink-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/console.sock";
    log_.reset(::memfd_create("console-log", MFD_CLOEXEC));
    if (!log_) throw std::runtime_error("memfd_create");
    sink_ = std::make_unique<ConsoleSink>(log_.get());
    sink_->serve(path_, [this](std::string_view in) {
      std::lock_guard lk(input_mu_);
      input_ += in;
      input_cv_.notify_all();
    });
  }
  ~ConsoleSinkTest() override {
    sink_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Everything written to the log fd so far.
  std::string log() const {
    std::string out;
    char buf[65536];
    for (off_t off = 0;;) {
      const ssize_t n = ::pread(log_.get(), buf, sizeof buf, off);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
      off += n;
    }
  }

  std::string dir_, path_;
  UniqueFd log_;
  std::unique_ptr<ConsoleSink> sink_;
  std::mutex input_mu_;
  std::condition_variable input_cv_;
  std::string input_;
};

TEST_F(ConsoleSinkTest, ANewClientGetsTheHistoryThenLiveOutput) {
  sink_->write("boot line 1\n");
  sink_->write("boot line 2\n");
  UniqueFd c = connect_to(path_);
  EXPECT_EQ(read_size(c.get(), 24), "boot line 1\nboot line 2\n");
  sink_->write("live\n");
  EXPECT_EQ(read_size(c.get(), 5), "live\n");
  // A later client gets it all again; the first gets only what is new.
  UniqueFd d = connect_to(path_);
  EXPECT_EQ(read_size(d.get(), 29), "boot line 1\nboot line 2\nlive\n");
  sink_->write("more");
  EXPECT_EQ(read_size(c.get(), 4), "more");
  EXPECT_EQ(read_size(d.get(), 4), "more");
  EXPECT_EQ(log(), "boot line 1\nboot line 2\nlive\nmore");
  EXPECT_EQ(sink_->history(), log());
}

TEST_F(ConsoleSinkTest, NothingLostOrDoubledWhileClientsConnectDuringConcurrentWrites) {
  constexpr int kWriters = 4, kRecords = 3000, kClients = 8;
  std::atomic<bool> go{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; t++)
    writers.emplace_back([&, t] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < kRecords; i++) sink_->write("w" + std::to_string(t) + " " + std::to_string(i) + "\n");
    });
  // Each client is read as it goes, by a thread of its own.
  struct Reader {
    UniqueFd fd;
    std::string got;
    std::thread thread;
  };
  std::vector<std::unique_ptr<Reader>> readers;
  std::atomic<size_t> expected_size{SIZE_MAX};
  go = true;
  for (int k = 0; k < kClients; k++) {
    auto r = std::make_unique<Reader>();
    r->fd = connect_to(path_);
    r->thread = std::thread([&, r = r.get()] {
      r->got = read_until(r->fd.get(), [&](const std::string& s) { return s.size() >= expected_size; }, 30s);
    });
    readers.push_back(std::move(r));
    std::this_thread::sleep_for(1ms);
  }
  for (auto& w : writers) w.join();
  const std::string expected = log();
  expected_size = expected.size();
  ASSERT_LT(expected.size(), kConsoleHistoryBytes);  // so every client must get every byte
  // The log itself has every record of every writer, each writer's in order.
  std::vector<int> next(kWriters, 0);
  for (size_t p = 0; p < expected.size();) {
    const size_t nl = expected.find('\n', p);
    ASSERT_NE(nl, std::string::npos);
    const std::string rec = expected.substr(p, nl - p);
    const int t = std::stoi(rec.substr(1));
    ASSERT_EQ(rec, "w" + std::to_string(t) + " " + std::to_string(next[t])) << "at " << p;
    next[t]++;
    p = nl + 1;
  }
  for (int t = 0; t < kWriters; t++) EXPECT_EQ(next[t], kRecords);
  // Whenever it connected, a client got the history and then the live
  // output: together exactly the log.
  for (auto& r : readers) {
    r->thread.join();
    EXPECT_EQ(r->got.size(), expected.size());
    EXPECT_TRUE(r->got == expected) << "a client's stream differs from the log";
  }
}

TEST_F(ConsoleSinkTest, TheHistoryIsBoundedAndKeepsTheNewest) {
  std::string all;
  for (int i = 0; all.size() < kConsoleHistoryBytes + kConsoleHistoryBytes / 2; i++) {
    const std::string line = "line " + std::to_string(i) + "\n";
    sink_->write(line);
    all += line;
  }
  EXPECT_EQ(log(), all);  // the log has everything
  const std::string tail = all.substr(all.size() - kConsoleHistoryBytes);
  EXPECT_TRUE(sink_->history() == tail);
  UniqueFd c = connect_to(path_);
  const std::string got = read_size(c.get(), kConsoleHistoryBytes);
  EXPECT_EQ(got.size(), kConsoleHistoryBytes);
  EXPECT_TRUE(got == tail) << "the history a client got is not the last " << kConsoleHistoryBytes << " bytes";
  sink_->write("live\n");
  EXPECT_EQ(read_size(c.get(), 5), "live\n");
}

TEST_F(ConsoleSinkTest, AClientThatNeverReadsDoesNotBlockWriters) {
  UniqueFd stalled = connect_to(path_);
  const int small = 4096;
  ::setsockopt(stalled.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  constexpr size_t kTotal = 8 * kConsoleHistoryBytes;
  auto writing = std::async(std::launch::async, [&] {
    std::string chunk(4096, ' ');
    for (size_t done = 0, i = 0; done < kTotal; done += chunk.size(), i++) {
      const std::string stamp = std::to_string(i);
      chunk.replace(0, stamp.size(), stamp);
      chunk.back() = '\n';
      sink_->write(chunk);
    }
  });
  ASSERT_EQ(writing.wait_for(60s), std::future_status::ready) << "a client that does not read blocked the writer";
  writing.get();
  // Another client is served meanwhile.
  UniqueFd live = connect_to(path_);
  sink_->write("after\n");
  EXPECT_TRUE(read_until(live.get(), [](const std::string& s) { return s.ends_with("after\n"); }).ends_with("after\n"));
  // What the stalled client gets when it reads at last: what its socket
  // held, then its backlog, the newest output (the oldest was dropped).
  const std::string all = log();
  const std::string newest = all.substr(all.size() - kConsoleHistoryBytes);
  const std::string got = read_until(stalled.get(), [&](const std::string& s) { return s.ends_with(newest); });
  EXPECT_TRUE(got.ends_with(newest)) << "got " << got.size() << " bytes";
  EXPECT_LT(got.size(), all.size());
}

TEST_F(ConsoleSinkTest, ClientInputReachesTheInputSide) {
  UniqueFd c = connect_to(path_);
  ASSERT_EQ(::send(c.get(), "ls\r", 3, MSG_NOSIGNAL), 3);
  std::unique_lock lk(input_mu_);
  EXPECT_TRUE(input_cv_.wait_for(lk, 10s, [&] { return input_ == "ls\r"; })) << input_;
}

TEST_F(ConsoleSinkTest, AClientThatLeftIsForgottenAndStopEndsTheRest) {
  {
    UniqueFd gone = connect_to(path_);
    sink_->write("one\n");
    EXPECT_EQ(read_size(gone.get(), 4), "one\n");
  }  // closed: writes to it must not fail (or raise SIGPIPE)
  for (int i = 0; i < 100; i++) sink_->write("two\n");
  UniqueFd c = connect_to(path_);
  EXPECT_EQ(read_size(c.get(), 404).size(), 404u);
  sink_->stop();
  EXPECT_EQ(read_until(c.get(), [](const std::string&) { return false; }, 10s), "");  // EOF
  EXPECT_FALSE(std::filesystem::exists(path_));
  sink_->write("after stop\n");  // still logged
  EXPECT_TRUE(log().ends_with("after stop\n"));
}

}  // namespace
}  // namespace pv
