// pv-hv's control socket over a real Unix socket: what pvd's mem-max and
// the memory queries get.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <cstring>
#include <string>

#include "control/control_server.h"
#include "gnttab/grant_table.h"
#include "memory/guest_memory.h"
#include "memory/reservation.h"

namespace pv {
namespace {

constexpr uint64_t kPages = 1024;

class ControlServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pv-control-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/ctl.sock";
    server_ = std::make_unique<ControlServer>(path_, res_, 3, [this] { return vcpus_up_.load(); });
  }
  void TearDown() override {
    server_.reset();
    ::rmdir(dir_.c_str());
  }

  // One request, one reply, as pvd sends it; false if the server closed
  // without answering.
  bool call(const void* req, size_t len, ctl::Reply& reply) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path_.c_str());
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
    if (::send(fd.get(), req, len, 0) != static_cast<ssize_t>(len)) return false;
    return ::recv(fd.get(), &reply, sizeof reply, 0) == static_cast<ssize_t>(sizeof reply);
  }
  ctl::Reply request(ctl::Op op, uint64_t value = 0, uint32_t magic = ctl::kMagic) {
    const ctl::Request req{magic, static_cast<uint32_t>(op), value};
    ctl::Reply r{};
    EXPECT_TRUE(call(&req, sizeof req, r));
    return r;
  }

  GuestMemory mem_{kPages * 4096};
  GrantTable gt_{mem_, 1};
  Reservation res_{mem_, gt_.absent_bitmap(), 512, 768, nullptr};
  std::atomic<uint64_t> vcpus_up_{0b101};
  std::string dir_, path_;
  std::unique_ptr<ControlServer> server_;
};

// pvctl vcpu-list's offline vCPUs: which are up, asked each time.
TEST_F(ControlServerTest, QueryVcpusSaysWhichAreUp) {
  ctl::Reply r = request(ctl::Op::kQueryVcpus);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.vcpus, 3u);
  EXPECT_EQ(r.vcpus_up, 0b101u);
  vcpus_up_ = 0b111;
  r = request(ctl::Op::kQueryVcpus);
  EXPECT_EQ(r.vcpus_up, 0b111u);
  EXPECT_EQ(r.current_pages, kPages - 256);  // the memory figures come along
}

TEST_F(ControlServerTest, QueryReportsTheReservation) {
  const ctl::Reply r = request(ctl::Op::kQueryMemory);
  EXPECT_EQ(r.magic, ctl::kMagic);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.current_pages, kPages - 256);
  EXPECT_EQ(r.maximum_pages, kPages);
  EXPECT_EQ(r.ballooned_pages, 256u);
  EXPECT_EQ(r.ram_pages, kPages);
}

TEST_F(ControlServerTest, SetMaxMemoryChangesTheCeilingTheGuestMeets) {
  const ctl::Reply r = request(ctl::Op::kSetMaxMemory, kPages - 200);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.maximum_pages, kPages - 200);
  EXPECT_EQ(res_.maximum(), kPages - 200);
  // The guest grows to the new ceiling and no further.
  uint64_t next = 512;
  const auto extents = [&](uint64_t, uint64_t& gfn) {
    gfn = next++;
    return true;
  };
  EXPECT_EQ(res_.populate(0, 100, 0, extents), 56u);
  EXPECT_EQ(res_.current(), kPages - 200);
}

TEST_F(ControlServerTest, BadRequestsAreRefusedAndChangeNothing) {
  EXPECT_EQ(request(ctl::Op::kSetMaxMemory, 0).status, -EINVAL);
  EXPECT_EQ(request(static_cast<ctl::Op>(77), 5).status, -EINVAL);
  EXPECT_EQ(request(ctl::Op::kSetMaxMemory, 10, 0x1234).status, -EINVAL);
  EXPECT_EQ(res_.maximum(), kPages);
  // A short message gets no answer; the server goes on serving.
  const uint32_t half = ctl::kMagic;
  ctl::Reply r{};
  EXPECT_FALSE(call(&half, sizeof half, r));
  EXPECT_EQ(request(ctl::Op::kQueryMemory).status, 0);
}

}  // namespace
}  // namespace pv

namespace pv {
namespace {

// The save ops answer twice: kArmed while the handler waits, then the end.
TEST(ControlServerSaveOps, AnswerArmedThenTheHandlersStatus) {
  char tmpl[] = "/tmp/pv-control-test.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl), path = dir + "/ctl.sock";
  GuestMemory mem{kPages * 4096};
  GrantTable gt{mem, 1};
  Reservation res{mem, gt.absent_bitmap(), 512, 768, nullptr};
  uint64_t seen_value = 0;
  {
    ControlServer server(path, res, 1, {}, [&](const ctl::Request& req, std::vector<UniqueFd>&, ControlServer::SaveRequester& rq) {
      seen_value = req.value;
      rq.interim(ctl::kArmed);
      return -ETIMEDOUT;
    });
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kCheckpoint), 1234};
    ASSERT_EQ(::send(fd.get(), &req, sizeof req, 0), static_cast<ssize_t>(sizeof req));
    ctl::Reply r{};
    ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
    EXPECT_EQ(r.status, ctl::kArmed);
    ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
    EXPECT_EQ(r.status, -ETIMEDOUT);
    EXPECT_EQ(r.ram_pages, kPages);
  }
  EXPECT_EQ(seen_value, 1234u);
  ::rmdir(dir.c_str());
}

// A save whose requester closed its end is seen as such (pv-hv then
// cancels it rather than end a domain nobody will restore).
TEST(ControlServerSaveOps, TheHandlerSeesWhenTheRequesterHasGone) {
  char tmpl[] = "/tmp/pv-control-test.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl), path = dir + "/ctl.sock";
  GuestMemory mem{kPages * 4096};
  GrantTable gt{mem, 1};
  Reservation res{mem, gt.absent_bitmap(), 512, 768, nullptr};
  std::atomic<int> gone_before{-1}, gone_after{-1};
  std::atomic<bool> looked{false};
  {
    ControlServer server(path, res, 1, {}, [&](const ctl::Request&, std::vector<UniqueFd>&, ControlServer::SaveRequester& rq) {
      rq.interim(ctl::kArmed);
      gone_before = rq.gone();
      looked = true;
      for (int i = 0; i < 500 && !rq.gone(); i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      gone_after = rq.gone();
      return -ECONNRESET;
    });
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kSaveToFile), 1000};
    ASSERT_EQ(::send(fd.get(), &req, sizeof req, 0), static_cast<ssize_t>(sizeof req));
    ctl::Reply r{};
    ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
    EXPECT_EQ(r.status, ctl::kArmed);
    // The requester goes only after the handler has seen it still there.
    for (int i = 0; i < 500 && !looked; i++) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    fd.reset();  // pvd dies
  }
  EXPECT_EQ(gone_before.load(), 0);
  EXPECT_EQ(gone_after.load(), 1);
  ::rmdir(dir.c_str());
}

// A held op: kWritten, then the handler waits for the requester's
// kRelease on the same connection; something else is not a release.
TEST(ControlServerSaveOps, AHeldOpWaitsForTheRequestersRelease) {
  char tmpl[] = "/tmp/pv-control-test.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl), path = dir + "/ctl.sock";
  GuestMemory mem{kPages * 4096};
  GrantTable gt{mem, 1};
  Reservation res{mem, gt.absent_bitmap(), 512, 768, nullptr};
  std::atomic<int> first{-1}, second{-1};
  {
    ControlServer server(path, res, 1, {}, [&](const ctl::Request&, std::vector<UniqueFd>&, ControlServer::SaveRequester& rq) {
      rq.interim(ctl::kWritten);
      first = rq.await_release(std::chrono::milliseconds(5000));
      rq.interim(ctl::kWritten);
      second = rq.await_release(std::chrono::milliseconds(5000));
      return 0;
    });
    UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kCheckpointToFileHeld), 1000};
    ASSERT_EQ(::send(fd.get(), &req, sizeof req, 0), static_cast<ssize_t>(sizeof req));
    ctl::Reply r{};
    ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
    EXPECT_EQ(r.status, ctl::kWritten);
    const ctl::Request go{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kRelease), 0};
    ASSERT_EQ(::send(fd.get(), &go, sizeof go, 0), static_cast<ssize_t>(sizeof go));
    ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
    EXPECT_EQ(r.status, ctl::kWritten);
    const ctl::Request other{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kQueryMemory), 0};
    ASSERT_EQ(::send(fd.get(), &other, sizeof other, 0), static_cast<ssize_t>(sizeof other));
    ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
    EXPECT_EQ(r.status, 0);
  }
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(second.load(), 0);
  ::rmdir(dir.c_str());
}

// pv-hv ending (the server destroyed) ends a held op's wait for the
// release at once: a migrated domain's source pv-hv does not wait it out.
TEST(ControlServerSaveOps, TheServerGoingEndsTheWaitForARelease) {
  char tmpl[] = "/tmp/pv-control-test.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl), path = dir + "/ctl.sock";
  GuestMemory mem{kPages * 4096};
  GrantTable gt{mem, 1};
  Reservation res{mem, gt.absent_bitmap(), 512, 768, nullptr};
  std::atomic<int> released{-1};
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  auto server = std::make_unique<ControlServer>(
      path, res, 1, std::function<uint64_t()>{}, [&](const ctl::Request&, std::vector<UniqueFd>&, ControlServer::SaveRequester& rq) {
        rq.interim(ctl::kWritten);
        released = rq.await_release(std::chrono::milliseconds(60000));
        return 0;
      });
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(ctl::Op::kCheckpointToFileHeld), 1000};
  ASSERT_EQ(::send(fd.get(), &req, sizeof req, 0), static_cast<ssize_t>(sizeof req));
  ctl::Reply r{};
  ASSERT_EQ(::recv(fd.get(), &r, sizeof r, 0), static_cast<ssize_t>(sizeof r));
  EXPECT_EQ(r.status, ctl::kWritten);
  const auto t0 = std::chrono::steady_clock::now();
  server.reset();  // the client keeps its end open
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(released.load(), 0);
  ::rmdir(dir.c_str());
}

}  // namespace
}  // namespace pv
