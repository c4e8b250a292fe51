// pv-backd's DeviceManager across xenstored restarts (a pvd restart):
// against the real xenstored (xenstored-test on a temporary socket) with a
// device type of the test's own, it keeps a connected device serving while
// xenstored is away, reconnects, and reconciles: nodes kept as they were
// are left untouched, nodes recreated by the toolstack are written again
// without a new handshake, vanished devices are torn down and new ones
// picked up. A new xenstored is filled first and then renamed onto the
// socket path, as pvd writes the devices' nodes before it serves clients.
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "backd/device_manager.h"
#include "common/xs_client.h"
#include "process.h"
#include "pv/unique_fd.h"
#include "test_util.h"

namespace {

using namespace std::chrono_literals;
using pvtest::eventually;
using pv::backd::BackendContext;
using pv::backd::DeviceId;

constexpr const char* kBe = "/local/domain/0/backend/vtest/5/0";
constexpr const char* kFe = "/local/domain/5/device/vtest/0";

struct Counters {
  std::atomic<int> publishes{0}, connects{0}, disconnects{0}, alive{0};
};

// A device that needs nothing but xenstore: connect() always works.
class TestDevice : public pv::backd::XenbusDevice {
 public:
  TestDevice(BackendContext& ctx, DeviceId id, Counters& c) : XenbusDevice(ctx, std::move(id)), c_(c) { c_.alive++; }
  ~TestDevice() override { c_.alive--; }

 protected:
  void publish_features() override {
    c_.publishes++;
    write_backend("feature-test", "1");
  }
  void connect() override { c_.connects++; }
  void disconnect() override { c_.disconnects++; }

 private:
  Counters& c_;
};

class BackdReconnect : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/backd-reconnect.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/xenstored.sock";
    start_xenstored(socket_);
    ASSERT_TRUE(xenstored_);
    tool_ = std::make_unique<pv::XsClient>(socket_);
    backd_xs_ = std::make_unique<pv::XsClient>(socket_);
    manager_ = std::make_unique<pv::backd::DeviceManager>(*backd_xs_, dir_);
    manager_->register_type("vtest", [this](BackendContext& ctx, DeviceId id) {
      return std::make_shared<TestDevice>(ctx, std::move(id), counters_);
    });
    stop_.reset(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { ran_ok_ = manager_->run(stop_.get()); });
  }
  void TearDown() override {
    if (stop_) {
      const uint64_t one = 1;
      (void)!::write(stop_.get(), &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    manager_.reset();
    backd_xs_.reset();
    tool_.reset();
    xenstored_.reset();  // SIGKILLs and reaps it
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void start_xenstored(const std::string& path) {
    xenstored_ = std::make_unique<pvtest::Process>(std::vector<std::string>{XENSTORED_TEST_PATH, "--socket", path});
    if (!xenstored_->wait_for_output("listening on", 10s)) xenstored_.reset();
  }
  // Kills xenstored, starts a new one on a side path, fills its store with
  // `fill` and only then moves its socket onto the path pv-backd retries.
  void restart_xenstored(const std::function<void(pv::XsClient&)>& fill) {
    xenstored_.reset();
    ASSERT_TRUE(eventually([&] { return !backd_xs_->connected(); }, 5s));
    const std::string side = dir_ + "/new.sock";
    start_xenstored(side);
    ASSERT_TRUE(xenstored_);
    {
      pv::XsClient filler(side);
      fill(filler);
    }
    ASSERT_EQ(std::rename(side.c_str(), socket_.c_str()), 0);
    tool_ = std::make_unique<pv::XsClient>(socket_);
    ASSERT_TRUE(eventually([&] { return backd_xs_->connected() && backd_xs_->generation() == 2; }, 10s));
  }
  // pvd's nodes of a new device (libxl's layout, both states
  // Initialising), all at once as pvd writes them.
  static void write_device(pv::XsClient& xs, const std::string& be, const std::string& fe) {
    for (;;) {
      const uint32_t tx = xs.transaction_start();
      xs.write(be + "/frontend", fe, tx);
      xs.write(be + "/state", "1", tx);
      xs.write(fe + "/backend", be, tx);
      xs.write(fe + "/state", "1", tx);
      if (xs.transaction_end(tx, true)) return;
    }
  }
  std::string read(const std::string& path) { return tool_->read(path).value_or(""); }
  // Brings the device to Connected as a front-end does.
  void connect_device() {
    write_device(*tool_, kBe, kFe);
    ASSERT_TRUE(eventually([&] { return read(std::string(kBe) + "/state") == "2"; }, 5s));
    tool_->write(std::string(kFe) + "/state", "3");
    ASSERT_TRUE(eventually([&] { return read(std::string(kBe) + "/state") == "4"; }, 5s));
    tool_->write(std::string(kFe) + "/state", "4");
    ASSERT_EQ(counters_.connects.load(), 1);
  }
  // Stays as it is for a while: connected once, never disconnected.
  bool still_connected_once() {
    for (int i = 0; i < 10; i++) {
      if (counters_.connects != 1 || counters_.disconnects != 0 || counters_.alive != 1) return false;
      std::this_thread::sleep_for(60ms);
    }
    return read(std::string(kBe) + "/state") == "4";
  }

  std::string dir_, socket_;
  std::unique_ptr<pvtest::Process> xenstored_;
  std::unique_ptr<pv::XsClient> tool_, backd_xs_;
  std::unique_ptr<pv::backd::DeviceManager> manager_;
  Counters counters_;
  pv::UniqueFd stop_;
  std::thread thread_;
  std::atomic<bool> ran_ok_{false};
};

// The store came back as it was (a durable xenstored): nothing is written,
// nothing reconnects.
TEST_F(BackdReconnect, KeptNodesAreLeftUntouched) {
  connect_device();
  restart_xenstored([](pv::XsClient& xs) {
    xs.write(std::string(kBe) + "/frontend", kFe);
    xs.write(std::string(kBe) + "/feature-test", "1");
    xs.write(std::string(kBe) + "/state", "4");
    xs.write(std::string(kFe) + "/backend", kBe);
    xs.write(std::string(kFe) + "/state", "4");
  });
  // A watch on the back-end's state: its first event is the registration's;
  // any other would be a write by pv-backd.
  tool_->watch(std::string(kBe) + "/state", "t");
  ASSERT_TRUE(eventually([&] { return !tool_->take_events().empty(); }, 5s));
  EXPECT_TRUE(still_connected_once());
  EXPECT_TRUE(tool_->take_events().empty()) << "pv-backd rewrote its state";
  EXPECT_EQ(counters_.publishes.load(), 1);
}

// The toolstack recreated the nodes (a store that was not kept): the
// device writes its keys and state again and goes on serving.
TEST_F(BackdReconnect, RecreatedNodesAreWrittenAgainWithoutAHandshake) {
  connect_device();
  restart_xenstored([](pv::XsClient& xs) { write_device(xs, kBe, kFe); });
  EXPECT_TRUE(eventually([&] { return read(std::string(kBe) + "/state") == "4"; }, 5s));
  EXPECT_EQ(read(std::string(kBe) + "/feature-test"), "1");
  EXPECT_TRUE(still_connected_once());
  EXPECT_EQ(counters_.publishes.load(), 2);
  // A real change of the front-end afterwards is acted on as always.
  tool_->write(std::string(kFe) + "/state", "5");  // Closing
  EXPECT_TRUE(eventually([&] { return counters_.disconnects == 1; }, 5s));
}

// Devices whose directory is gone are torn down; new ones are picked up.
TEST_F(BackdReconnect, VanishedDevicesGoAndNewOnesCome) {
  connect_device();
  restart_xenstored([](pv::XsClient& xs) {
    write_device(xs, "/local/domain/0/backend/vtest/6/0", "/local/domain/6/device/vtest/0");
  });
  EXPECT_TRUE(eventually([&] { return counters_.disconnects == 1; }, 5s));
  EXPECT_TRUE(eventually([&] { return read("/local/domain/0/backend/vtest/6/0/state") == "2"; }, 5s));
  EXPECT_EQ(counters_.alive.load(), 1);  // only the new one
  EXPECT_EQ(read(std::string(kBe) + "/state"), "");  // the old one wrote nothing back
}

// The pv-backd binary started while no xenstored is there (pvd died, or
// restarts, right after starting it): it waits, and serves once xenstored
// comes; stopped while waiting, it exits 0.
TEST(BackdStart, WaitsForXenstoredThatIsNotThereYet) {
  char tmpl[] = "/tmp/backd-start.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl, sock = dir + "/xenstored.sock";
  {
    pvtest::Process backd({PV_BACKD_PATH, "--xenstore-socket", sock, "--state-dir", dir});
    EXPECT_TRUE(backd.wait_for_output("waiting for it", 10s, true));
    std::this_thread::sleep_for(500ms);
    pvtest::Process xenstored({XENSTORED_TEST_PATH, "--socket", sock});
    ASSERT_TRUE(xenstored.wait_for_output("listening on", 10s));
    EXPECT_TRUE(backd.wait_for_output("serving", 10s, true)) << "pv-backd did not connect once xenstored came";
  }
  {
    pvtest::Process backd({PV_BACKD_PATH, "--xenstore-socket", dir + "/none.sock", "--state-dir", dir});
    ASSERT_TRUE(backd.wait_for_output("waiting for it", 10s, true));
    backd.signal(SIGTERM);
    const pvtest::Result r = backd.wait(10s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
