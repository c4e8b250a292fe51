// pvd's end of a guest ring (dom0-tools/pvd/guest_ring_link.*) across an
// xenstored restart: a fake pv-hv serves a real ring page over the xenstore
// link; a new server restored from the state dir picks the ring up where
// its indices stand, and the guest's watch fires on it again.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "guest_ring_link.h"
#include "pv/fd_passing.h"
#include "pv/unique_fd.h"
#include "test_client.h"
#include "xenstore/message_reader.h"

namespace {
using namespace std::chrono_literals;
using pv::UniqueFd;
using pv::xenstore::Message;
using pv::xenstore::MsgType;
using pv::xenstore::XenstoreServer;
using Ring = xen::xenstore::domain_interface;
constexpr uint32_t kRing = xen::xenstore::kRingSize;
constexpr xstest::DomId kDomid = 5;

uint32_t load(const uint32_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void store(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

class RingRestart : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xs-ring.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    memfd_ = UniqueFd(::memfd_create("guest-ram", MFD_CLOEXEC));
    ASSERT_TRUE(memfd_);
    ASSERT_EQ(::ftruncate(memfd_.get(), 2 * 4096), 0);
    void* page = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_.get(), 4096);
    ASSERT_NE(page, MAP_FAILED);
    ring_ = static_cast<Ring*>(page);
    listener_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket_path();
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(::listen(listener_.get(), 4), 0);
  }
  void TearDown() override {
    link_.reset();
    server_.reset();
    if (accepter_.joinable()) accepter_.join();
    if (ring_) ::munmap(ring_, 4096);
    std::filesystem::remove_all(dir_);
  }
  std::string socket_path() const { return dir_ + "/5.xs.sock"; }
  std::string partial_path() const { return dir_ + "/partial-request-5"; }

  // As pvd: a (restored) server, and the link to the ring, attached.
  void start_pvd() {
    server_ = std::make_unique<XenstoreServer>();
    server_->make_durable(dir_ + "/xenstore");
    if (!server_->is_introduced(kDomid)) server_->introduce_domain(kDomid, 1, 3);
    // As pv-hv: accept pvd and send the hello with guest RAM.
    accepter_ = std::thread([this] {
      peer_ = UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      pv::xslink::LinkHello hello{pv::xslink::kMagic, pv::xslink::kVersion, kDomid, 3, 1, 2 * 4096};
      pv::send_with_fds(peer_.get(), hello, {memfd_.get()});
    });
    bool ready = false;
    link_ = std::make_unique<pv::pvd::GuestRingLink>(io_, *server_, kDomid, socket_path(), partial_path(),
                                                     [&](const pv::xslink::LinkHello&) {
                                                       link_->attach();
                                                       ready = true;
                                                     });
    run_until([&] { return ready; });
    accepter_.join();
  }
  // pvd exits (SIGTERM): the state stays, the link goes.
  void stop_pvd() {
    server_->stop_journal();
    link_.reset();
    server_.reset();
    peer_.reset();
  }

  template <typename Pred>
  bool run_until(Pred done) {
    for (int i = 0; i < 200 && !done(); i++) {
      io_.restart();
      io_.run_for(10ms);
    }
    return done();
  }
  // The guest: appends bytes to req[] and notifies.
  void guest_send(const std::string& bytes) {
    uint32_t prod = load(&ring_->req_prod);
    for (char c : bytes) ring_->req[prod++ & (kRing - 1)] = c;
    store(&ring_->req_prod, prod);
    const char bell = 'g';
    ASSERT_EQ(::send(peer_.get(), &bell, 1, MSG_NOSIGNAL), 1);
  }
  // The guest: everything in rsp[] so far, consumed.
  std::vector<Message> guest_receive() {
    uint32_t cons = load(&ring_->rsp_cons);
    const uint32_t prod = load(&ring_->rsp_prod);
    std::string bytes;
    for (; cons != prod; cons++) bytes += ring_->rsp[cons & (kRing - 1)];
    store(&ring_->rsp_cons, cons);
    reader_.append(bytes);
    std::vector<Message> out;
    while (auto m = reader_.next()) out.push_back(std::move(*m));
    return out;
  }
  // A guest node the domain may write, and a request writing `value` to it
  // that is longer than the ring.
  std::string long_write(const std::string& value) {
    xstest::TestClient dom0(*server_, 0);
    EXPECT_TRUE(dom0.mkdir("/local/domain/5/data").ok());
    EXPECT_TRUE(dom0.set_perms("/local/domain/5", {"n5"}).ok());
    EXPECT_TRUE(dom0.set_perms("/local/domain/5/data", {"n5"}).ok());
    std::string payload = "data/big";
    payload += '\0';
    payload += value;
    return request(MsgType::kWrite, 9, payload);
  }
  void expect_long_write_served(const std::string& value) {
    std::vector<Message> got;
    ASSERT_TRUE(run_until([&] {
      for (auto& m : guest_receive()) got.push_back(std::move(m));
      return !got.empty();
    }));
    EXPECT_EQ(got[0].msg_type(), MsgType::kWrite);
    EXPECT_EQ(got[0].req_id, 9u);
    EXPECT_EQ(got[0].payload, std::string("OK") + '\0');
    xstest::TestClient dom0(*server_, 0);
    EXPECT_TRUE(dom0.read("/local/domain/5/data/big").value() == value) << "the value written is the one read";
    EXPECT_FALSE(std::filesystem::exists(partial_path())) << "the kept part goes once the request is whole";
  }
  static std::string request(MsgType type, uint32_t req_id, const std::string& payload) {
    return pv::xenstore::encode(Message{static_cast<uint32_t>(type), req_id, 0, payload});
  }
  static std::string nul(std::initializer_list<std::string> parts) {
    std::string s;
    for (const auto& p : parts) s += p + '\0';
    return s;
  }

  std::string dir_;
  UniqueFd memfd_, listener_, peer_;
  Ring* ring_ = nullptr;
  boost::asio::io_context io_;
  std::unique_ptr<XenstoreServer> server_;
  std::unique_ptr<pv::pvd::GuestRingLink> link_;
  std::thread accepter_;
  pv::xenstore::MessageReader reader_;
};
}  // namespace

TEST_F(RingRestart, GuestWatchFiresOnTheSameRingAfterARestart) {
  start_pvd();
  {
    xstest::TestClient dom0(*server_, 0);
    ASSERT_TRUE(dom0.mkdir("/local/domain/5/control").ok());
    ASSERT_TRUE(dom0.set_perms("/local/domain/5", {"n5"}).ok());
    ASSERT_TRUE(dom0.set_perms("/local/domain/5/control", {"n5"}).ok());
  }
  const std::string watch = request(MsgType::kWatch, 7, nul({"control/shutdown", "tok"}));
  // Half a request stays in the ring: a pvd killed now leaves it whole for the next.
  guest_send(watch.substr(0, 20));
  io_.restart();
  io_.run_for(200ms);  // pvd has seen the doorbell
  EXPECT_EQ(load(&ring_->req_cons), 0u) << "a partial request was taken off the ring";
  guest_send(watch.substr(20));
  std::vector<Message> got;
  ASSERT_TRUE(run_until([&] {
    for (auto& m : guest_receive()) got.push_back(std::move(m));
    return got.size() >= 2;
  }));
  EXPECT_EQ(got[0].msg_type(), MsgType::kWatch);
  EXPECT_EQ(got[1].payload, nul({"control/shutdown", "tok"}));
  const uint32_t req_at = load(&ring_->req_cons), rsp_at = load(&ring_->rsp_prod);
  EXPECT_EQ(req_at, watch.size());

  stop_pvd();
  start_pvd();
  got.clear();
  ASSERT_TRUE(run_until([&] {
    for (auto& m : guest_receive()) got.push_back(std::move(m));
    return !got.empty();
  }));
  EXPECT_EQ(got[0].msg_type(), MsgType::kWatchEvent);
  EXPECT_EQ(got[0].payload, nul({"control/shutdown", "tok"})) << "the restored watch fires once";
  EXPECT_EQ(load(&ring_->req_cons), req_at) << "indices carry on, never reset";
  EXPECT_GT(load(&ring_->rsp_prod), rsp_at);
  // A change after the restart reaches the guest through its restored watch.
  {
    xstest::TestClient dom0(*server_, 0);
    ASSERT_TRUE(dom0.write("/local/domain/5/control/shutdown", "poweroff").ok());
  }
  got.clear();
  ASSERT_TRUE(run_until([&] {
    for (auto& m : guest_receive()) got.push_back(std::move(m));
    return !got.empty();
  }));
  EXPECT_EQ(got[0].payload, nul({"control/shutdown", "tok"}));
  // And the guest's requests are served as before.
  guest_send(request(MsgType::kRead, 8, nul({"control/shutdown"})));
  got.clear();
  ASSERT_TRUE(run_until([&] {
    for (auto& m : guest_receive()) got.push_back(std::move(m));
    return !got.empty();
  }));
  EXPECT_EQ(got[0].req_id, 8u);
  EXPECT_EQ(got[0].payload, "poweroff");
}

// A request longer than the ring is taken as it comes; a pvd restarted in
// the middle of it carries on with the part the last one kept.
TEST_F(RingRestart, ARequestLongerThanTheRingIsServedAcrossARestart) {
  start_pvd();
  const std::string value(2040, 'v');  // within the 2048-byte entry quota
  const std::string write = long_write(value);
  ASSERT_GT(write.size(), 2 * kRing);
  guest_send(write.substr(0, kRing));
  ASSERT_TRUE(run_until([&] { return load(&ring_->req_cons) == kRing; })) << "a full ring is taken";
  EXPECT_TRUE(std::filesystem::exists(partial_path()));
  stop_pvd();
  start_pvd();
  guest_send(write.substr(kRing, kRing));
  ASSERT_TRUE(run_until([&] { return load(&ring_->req_cons) == 2 * kRing; }));
  guest_send(write.substr(2 * kRing));
  expect_long_write_served(value);
}

// pvd died after keeping the first part but before moving req_cons: the next
// one reads those bytes from the ring again, and only once.
TEST_F(RingRestart, AKeptPartTheRingDidNotGiveUpIsReadAgainOnce) {
  start_pvd();
  const std::string value(2030, 'w');
  const std::string write = long_write(value);
  guest_send(write.substr(0, kRing));
  ASSERT_TRUE(run_until([&] { return load(&ring_->req_cons) == kRing; }));
  stop_pvd();
  store(&ring_->req_cons, 0);  // as if the index never moved
  start_pvd();
  ASSERT_TRUE(run_until([&] { return load(&ring_->req_cons) == kRing; }));
  guest_send(write.substr(kRing, kRing));
  ASSERT_TRUE(run_until([&] { return load(&ring_->req_cons) == 2 * kRing; }));
  guest_send(write.substr(2 * kRing));
  expect_long_write_served(value);
}
