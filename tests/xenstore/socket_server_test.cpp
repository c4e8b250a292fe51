// The Unix-socket front end in-process: framing errors close only the
// offending client, untrusted peers are refused, the socket file is managed.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "xenstore/server.h"
#include "xenstore/unix_socket_server.h"

namespace {

using pv::xenstore::Message;
using pv::xenstore::MsgType;

// A blocking client socket with timeouts, speaking raw wire messages.
class RawClient {
 public:
  explicit RawClient(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { close(fd_); }
  bool connected() const { return connected_; }
  bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()); }
  bool send(const Message& msg) { return send(pv::xenstore::encode(msg)); }
  // The next message, or nullopt on EOF/timeout.
  std::optional<Message> receive() {
    while (true) {
      if (auto m = reader_.next()) return m;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 3000) <= 0) return std::nullopt;
      char buf[4096];
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      reader_.append(std::string_view(buf, size_t(n)));
    }
  }
  // True once the server closed the connection (EOF or reset).
  bool closed_by_server() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) return false;
    char buf[64];
    return read(fd_, buf, sizeof buf) <= 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  pv::xenstore::MessageReader reader_;
};

Message request(MsgType type, uint32_t req, std::string payload) {
  return {static_cast<uint32_t>(type), req, 0, std::move(payload)};
}

// The server on its own io_context thread; torn down in the destructor.
class ServerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xenstore-socket-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/socket";
    start();
  }
  void TearDown() override {
    stop();
    std::filesystem::remove_all(dir_);
  }
  void start() {
    listener_ = std::make_unique<pv::xenstore::UnixSocketServer>(io_, server_, path_);
    thread_ = std::thread([this] { io_.run(); });
  }
  void stop() {
    if (!thread_.joinable()) return;
    // Destroy the listener on the io thread, then let the loop finish.
    boost::asio::post(io_, [this] {
      listener_.reset();
      work_.reset();
    });
    thread_.join();
  }

  std::string dir_, path_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{io_.get_executor()};
  pv::xenstore::XenstoreServer server_{{}, nullptr, [](std::string_view) {}};
  std::unique_ptr<pv::xenstore::UnixSocketServer> listener_;
  std::thread thread_;
};

TEST_F(ServerFixture, SocketIsPrivate) {
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(ServerFixture, OversizedMessageClosesOnlyThatClient) {
  RawClient good(path_), bad(path_);
  ASSERT_TRUE(good.connected() && bad.connected());
  ASSERT_TRUE(good.send(request(MsgType::kWatch, 1, std::string("/x\0t\0", 5))));
  ASSERT_TRUE(good.receive().has_value());  // OK
  ASSERT_TRUE(good.receive().has_value());  // initial event
  pv::xenstore::WireHeader hdr{2, 9, 0, 100000};
  std::string bytes(sizeof hdr, '\0');
  std::memcpy(bytes.data(), &hdr, sizeof hdr);
  ASSERT_TRUE(bad.send(bytes));
  EXPECT_TRUE(bad.closed_by_server());
  ASSERT_TRUE(good.send(request(MsgType::kWrite, 2, std::string("/x\0v", 4))));
  int replies = 0, events = 0;
  for (int i = 0; i < 2; i++) {
    auto m = good.receive();
    ASSERT_TRUE(m.has_value());
    (m->msg_type() == MsgType::kWatchEvent ? events : replies)++;
  }
  EXPECT_EQ(replies, 1);
  EXPECT_EQ(events, 1);
}

TEST_F(ServerFixture, PipelinedRequestsAllGetReplies) {
  RawClient c(path_);
  std::string batch;
  for (uint32_t i = 1; i <= 200; i++) batch += pv::xenstore::encode(request(MsgType::kRead, i, std::string("/\0", 2)));
  ASSERT_TRUE(c.send(batch));
  for (uint32_t i = 1; i <= 200; i++) {
    auto m = c.receive();
    ASSERT_TRUE(m.has_value()) << "reply " << i;
    EXPECT_EQ(m->req_id, i);
  }
}

TEST_F(ServerFixture, ManyClientsAtOnce) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 64; i++) clients.push_back(std::make_unique<RawClient>(path_));
  for (size_t i = 0; i < clients.size(); i++)
    ASSERT_TRUE(clients[i]->send(request(MsgType::kWrite, 1, "/c" + std::to_string(i) + '\0' + "v")));
  for (auto& c : clients) {
    auto m = c->receive();
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->msg_type(), MsgType::kWrite);
  }
  RawClient check(path_);
  ASSERT_TRUE(check.send(request(MsgType::kRead, 5, std::string("/c63\0", 5))));
  auto m = check.receive();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->payload, "v");
}

TEST_F(ServerFixture, RefusesPeersThatAreNeitherRootNorOurUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to another uid";
  // Let the connection reach the SO_PEERCRED check.
  ASSERT_EQ(chmod(dir_.c_str(), 0711), 0);
  ASSERT_EQ(chmod(path_.c_str(), 0666), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    RawClient c(path_);
    if (!c.connected()) _exit(4);
    c.send(request(MsgType::kRead, 1, std::string("/\0", 2)));
    _exit(c.closed_by_server() ? 0 : 5);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: setuid failed, 4: connect failed, 5: not refused";
}

TEST_F(ServerFixture, SocketFileLifecycle) {
  // A live listener is not replaced.
  boost::asio::io_context other;
  pv::xenstore::XenstoreServer other_server{{}, nullptr, [](std::string_view) {}};
  EXPECT_THROW(pv::xenstore::UnixSocketServer(other, other_server, path_), std::runtime_error);
  // A non-socket is not touched.
  std::string file = dir_ + "/plain";
  { std::ofstream(file) << "x"; }
  try {
    pv::xenstore::UnixSocketServer s(other, other_server, file);
    ADD_FAILURE() << "listened over a regular file";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("not a socket"), std::string::npos) << e.what();
  }
  // Stopping removes the socket; a stale one (nobody listening) is replaced.
  stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    close(fd);  // leaves a stale socket file
  }
  pv::xenstore::UnixSocketServer again(other, other_server, path_);
  EXPECT_TRUE(std::filesystem::exists(path_));
}

}  // namespace
