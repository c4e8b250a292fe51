// The back-end link end to end without a guest CPU: pv-hv's BackendLink on
// one side, pv-backd's DomainLink on the other, a test playing the guest
// (allocating ports for dom0, granting pages) in the middle.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "belink/backend_link.h"
#include "common/domain_link.h"
#include "evtchn/event_channels.h"
#include "gnttab/grant_table.h"
#include "memory/guest_memory.h"

namespace pv {
namespace {
namespace G = xen::gnttab;
namespace EV = xen::evtchn;
using namespace std::chrono_literals;

constexpr xen::domid_t kDomid = 5;

template <typename Pred>
bool eventually(Pred p) {
  for (int i = 0; i < 200; i++) {
    if (p()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return p();
}

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

struct alignas(4096) Page {
  uint8_t bytes[4096];
};

class BackendLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/belink-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/1.be.sock";
    ev.set_shared_info(reinterpret_cast<xen::shared_info*>(shinfo->bytes));
    ASSERT_EQ(gt.map_frame(0, 3), 0);
    link = std::make_unique<BackendLink>(path_, kDomid, mem, gt, ev);
  }
  void TearDown() override {
    link.reset();
    std::filesystem::remove_all(dir_);
  }
  uint32_t alloc_for_dom0() {
    EV::alloc_unbound a{xen::DOMID_SELF, 0, 0};
    EXPECT_EQ(ev.alloc_unbound(a), 0);
    return a.port;
  }
  G::grant_entry_v1& entry(uint32_t ref) { return reinterpret_cast<G::grant_entry_v1*>(mem.page(3))[ref]; }
  void grant(uint32_t ref, uint32_t frame, uint16_t flags = G::GTF_permit_access) {
    entry(ref).frame = frame;
    entry(ref).domid = 0;
    entry(ref).flags = flags;
  }
  bool pending(uint32_t p) const {
    auto* si = reinterpret_cast<const xen::shared_info*>(shinfo->bytes);
    return si->evtchn_pending[p / 64] >> (p % 64) & 1;
  }
  EV::status status(uint32_t port) {
    EV::status s{};
    s.dom = xen::DOMID_SELF;
    s.port = port;
    EXPECT_EQ(ev.status(s), 0);
    return s;
  }

  std::string dir_, path_;
  GuestMemory mem{256 * 4096};
  GrantTable gt{mem, 4};
  std::unique_ptr<Page> shinfo = std::make_unique<Page>();
  EventChannels ev{kDomid, 1, [](uint32_t) {}, 64};
  std::unique_ptr<BackendLink> link;
};

TEST_F(BackendLinkTest, WrongDomainIsRefused) {
  EXPECT_THROW(DomainLink::connect(path_, kDomid + 1), std::exception);
  EXPECT_THROW(DomainLink::connect(dir_ + "/nothing.sock", kDomid), std::exception);
}

TEST_F(BackendLinkTest, GuestRamAndGrantsAreShared) {
  auto dl = DomainLink::connect(path_, kDomid);
  EXPECT_EQ(dl->ram_bytes(), mem.size());
  std::memcpy(mem.page(40), "from the guest", 15);
  grant(7, 40);
  grant(8, 41, G::GTF_permit_access | G::GTF_readonly);
  int16_t st = 0;
  {
    MappedGrant g = dl->map_grant(7, true, &st);
    ASSERT_TRUE(g) << st;
    EXPECT_STREQ(reinterpret_cast<char*>(g.data()), "from the guest");
    std::memcpy(g.data(), "from dom0", 10);
    EXPECT_STREQ(reinterpret_cast<char*>(mem.page(40)), "from dom0");
    EXPECT_EQ(entry(7).flags, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
    EXPECT_FALSE(dl->map_grant(8, true, &st));  // read-only grant
    EXPECT_EQ(st, G::st::permission_denied);
    EXPECT_FALSE(dl->map_grant(9, false, &st));  // never granted
    EXPECT_EQ(st, G::st::general_error);
    EXPECT_FALSE(dl->map_grant(100000, false, &st));
    EXPECT_EQ(st, G::st::bad_gntref);
  }
  EXPECT_EQ(entry(7).flags, G::GTF_permit_access);  // released with the MappedGrant
}

TEST_F(BackendLinkTest, RingPagesBecomeContiguous) {
  auto dl = DomainLink::connect(path_, kDomid);
  grant(1, 50);
  grant(2, 20);  // not adjacent in guest RAM
  mem.page(50)[0] = 'A';
  mem.page(20)[0] = 'B';
  RingMapping ring = dl->map_ring({1, 2});
  ASSERT_EQ(ring.bytes(), 8192u);
  EXPECT_EQ(ring.data()[0], 'A');
  EXPECT_EQ(ring.data()[4096], 'B');
  ring.data()[4097] = 'C';
  EXPECT_EQ(mem.page(20)[1], 'C');
  EXPECT_THROW(dl->map_ring({1, 99}), std::exception);  // 99 is not granted
}

TEST_F(BackendLinkTest, EventChannelBothWays) {
  auto dl = DomainLink::connect(path_, kDomid);
  const uint32_t port = alloc_for_dom0();
  EV::alloc_unbound self{xen::DOMID_SELF, xen::DOMID_SELF, 0};
  ASSERT_EQ(ev.alloc_unbound(self), 0);
  EXPECT_THROW(dl->bind(self.port), std::exception);  // not for dom0
  auto bound = dl->bind(port);
  EXPECT_EQ(status(port).status, EV::stat::interdomain);
  // guest -> back-end
  ASSERT_EQ(ev.send(port), 0);
  ASSERT_TRUE(readable(bound->kick_fd(), 2000));
  EXPECT_TRUE(bound->consume_kick());
  // back-end -> guest
  bound->notify();
  EXPECT_TRUE(eventually([&] { return pending(port); }));
  // The back-end closes its end: the guest's port is unbound again.
  bound.reset();
  EXPECT_TRUE(eventually([&] { return status(port).status == EV::stat::unbound; }));
}

TEST_F(BackendLinkTest, DeadBackendLosesBindingsAndGrantUses) {
  const uint32_t port = alloc_for_dom0();
  grant(3, 60);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  // A back-end process that binds and maps, then dies without cleaning up.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      auto dl = DomainLink::connect(path_, kDomid);
      auto bound = dl->bind(port);
      MappedGrant g = dl->map_grant(3, true);
      const char ok = g ? 'y' : 'n';
      (void)!::write(ready[1], &ok, 1);
      ::pause();  // killed here, holding everything
    } catch (...) {
    }
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  EXPECT_EQ(ok, 'y');
  EXPECT_EQ(entry(3).flags, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
  EXPECT_EQ(status(port).status, EV::stat::interdomain);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  // The link closed: pv-hv cleared the flags and unbound the port.
  EXPECT_TRUE(eventually([&] { return entry(3).flags == G::GTF_permit_access; }));
  EXPECT_TRUE(eventually([&] { return status(port).status == EV::stat::unbound; }));
  // A restarted back-end starts clean and can bind again.
  auto dl2 = DomainLink::connect(path_, kDomid);
  EXPECT_NO_THROW(dl2->bind(port));
}

}  // namespace
}  // namespace pv
