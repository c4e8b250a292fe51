// WATCH / UNWATCH / RESET_WATCHES and WATCH_EVENT delivery.
#include <gtest/gtest.h>

#include "test_client.h"

using namespace xstest;
using pv::xenstore::XenstoreServer;

namespace {
struct XenstoreWatches : ::testing::Test {
  XenstoreServer server;
  TestClient dom0{server, 0};
  TestClient watcher{server, 0};
};
using Events = std::vector<Event>;
}  // namespace

TEST_F(XenstoreWatches, FiresOnceStraightAway) {
  ASSERT_TRUE(watcher.watch("/w", "tok").ok());
  EXPECT_EQ(watcher.events(), (Events{{"/w", "tok"}})) << "even for a missing path";
}

TEST_F(XenstoreWatches, SubtreeSemantics) {
  ASSERT_TRUE(watcher.watch("/w", "t").ok());
  watcher.events();
  ASSERT_TRUE(dom0.write("/w", "1").ok());
  ASSERT_TRUE(dom0.write("/w/a/b", "2").ok());
  ASSERT_TRUE(dom0.write("/wx", "sibling").ok());
  ASSERT_TRUE(dom0.write("/", "root").ok());
  ASSERT_TRUE(dom0.set_perms("/w/a", {"n0", "r1"}).ok());
  ASSERT_TRUE(dom0.mkdir("/w/a").ok());  // exists: no change, no event
  ASSERT_TRUE(dom0.rm("/w/a").ok());
  EXPECT_EQ(watcher.events(), (Events{{"/w", "t"}, {"/w/a/b", "t"}, {"/w/a", "t"}, {"/w/a", "t"}}));
}

TEST_F(XenstoreWatches, RemovingAnAncestorReportsTheWatchedPath) {
  ASSERT_TRUE(dom0.write("/anc/x/y", "1").ok());
  ASSERT_TRUE(watcher.watch("/anc/x/y", "t").ok());
  watcher.events();
  ASSERT_TRUE(dom0.rm("/anc").ok());
  EXPECT_EQ(watcher.events(), (Events{{"/anc/x/y", "t"}}));
}

TEST_F(XenstoreWatches, RelativeWatchesReportRelativePaths) {
  ASSERT_TRUE(dom0.mkdir("/local/domain/4").ok());
  ASSERT_TRUE(dom0.set_perms("/local/domain/4", {"n4"}).ok());
  TestClient guest(server, 4);
  ASSERT_TRUE(guest.watch("control/shutdown", "sd").ok());
  EXPECT_EQ(guest.events(), (Events{{"control/shutdown", "sd"}}));
  ASSERT_TRUE(dom0.write("/local/domain/4/control/shutdown", "poweroff").ok());
  EXPECT_EQ(guest.events(), (Events{{"control/shutdown", "sd"}}));
  ASSERT_TRUE(guest.watch("/local/domain/4/device", "abs").ok());
  guest.events();
  ASSERT_TRUE(dom0.write("/local/domain/4/device/vbd", "").ok());
  EXPECT_EQ(guest.events(), (Events{{"/local/domain/4/device/vbd", "abs"}}));
}

TEST_F(XenstoreWatches, TransactionEventsFireAtCommitOnly) {
  ASSERT_TRUE(watcher.watch("/tx", "t").ok());
  watcher.events();
  uint32_t tx = dom0.start();
  ASSERT_TRUE(dom0.write("/tx/a", "1", tx).ok());
  ASSERT_TRUE(dom0.rm("/tx/a", tx).ok());
  ASSERT_TRUE(dom0.write("/tx/b", "2", tx).ok());
  EXPECT_TRUE(watcher.events().empty());
  ASSERT_TRUE(dom0.end(tx, true).ok());
  EXPECT_EQ(watcher.events(), (Events{{"/tx/a", "t"}, {"/tx/a", "t"}, {"/tx/b", "t"}}));

  uint32_t aborted = dom0.start();
  ASSERT_TRUE(dom0.write("/tx/c", "3", aborted).ok());
  ASSERT_TRUE(dom0.end(aborted, false).ok());
  EXPECT_TRUE(watcher.events().empty());

  uint32_t conflicted = dom0.start();
  ASSERT_TRUE(dom0.read("/tx/b", conflicted).ok());
  ASSERT_TRUE(dom0.write("/tx/d", "4", conflicted).ok());
  ASSERT_TRUE(watcher.write("/tx/b", "changed").ok());
  watcher.events();
  EXPECT_EQ(dom0.end(conflicted, true).err(), "EAGAIN");
  EXPECT_TRUE(watcher.events().empty());
}

TEST_F(XenstoreWatches, UnwatchAndDuplicates) {
  ASSERT_TRUE(watcher.watch("/u", "t").ok());
  EXPECT_EQ(watcher.watch("/u", "t").err(), "EEXIST");
  ASSERT_TRUE(watcher.watch("/u", "t2").ok()) << "same path, other token";
  watcher.events();
  ASSERT_TRUE(watcher.unwatch("/u", "t").ok());
  EXPECT_EQ(watcher.unwatch("/u", "t").err(), "ENOENT");
  ASSERT_TRUE(dom0.write("/u", "x").ok());
  EXPECT_EQ(watcher.events(), (Events{{"/u", "t2"}}));
}

TEST_F(XenstoreWatches, ResetWatchesDropsWatchesAndTransactions) {
  ASSERT_TRUE(watcher.watch("/r", "t").ok());
  uint32_t tx = watcher.start();
  watcher.events();
  ASSERT_TRUE(watcher.request(MsgType::kResetWatches, std::string(1, '\0')).ok());
  ASSERT_TRUE(dom0.write("/r", "x").ok());
  EXPECT_TRUE(watcher.events().empty());
  EXPECT_EQ(watcher.end(tx, true).err(), "ENOENT");
}

TEST_F(XenstoreWatches, GuestsAreNotToldAboutNodesTheyCannotRead) {
  TestClient guest(server, 8);
  ASSERT_TRUE(guest.watch("/", "all").ok());
  guest.events();
  ASSERT_TRUE(dom0.write("/private", "x").ok());
  EXPECT_TRUE(guest.events().empty());
  ASSERT_TRUE(dom0.set_perms("/private", {"n0", "r8"}).ok());
  ASSERT_TRUE(dom0.write("/private", "y").ok());
  EXPECT_EQ(guest.events(), (Events{{"/private", "all"}, {"/private", "all"}}));
}

TEST_F(XenstoreWatches, SpecialDomainEvents) {
  ASSERT_TRUE(watcher.watch("@introduceDomain", "in").ok());
  ASSERT_TRUE(watcher.watch("@releaseDomain", "out").ok());
  ASSERT_TRUE(watcher.watch("/", "root").ok());
  EXPECT_EQ(watcher.events(), (Events{{"@introduceDomain", "in"}, {"@releaseDomain", "out"}, {"/", "root"}}));
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"3", "4660", "7"})).ok());
  EXPECT_EQ(watcher.events(), (Events{{"@introduceDomain", "in"}})) << "a watch on / does not see specials";
  ASSERT_TRUE(dom0.request(MsgType::kRelease, args({"3"})).ok());
  EXPECT_EQ(watcher.events(), (Events{{"@releaseDomain", "out"}}));
}

TEST_F(XenstoreWatches, EventsGoToEveryMatchingConnection) {
  TestClient other(server, 0);
  ASSERT_TRUE(watcher.watch("/m", "w1").ok());
  ASSERT_TRUE(other.watch("/m/n", "w2").ok());
  watcher.events();
  other.events();
  ASSERT_TRUE(dom0.write("/m/n/o", "x").ok());
  EXPECT_EQ(watcher.events(), (Events{{"/m/n/o", "w1"}}));
  EXPECT_EQ(other.events(), (Events{{"/m/n/o", "w2"}}));
  EXPECT_EQ(dom0.request(MsgType::kWatch, args({"/m"})).err(), "EINVAL") << "token missing";
}
