// xenstored's state across a restart (server_durable.cpp): the tree with
// permissions, quotas, domain introductions, guests' watches, transactions
// open at the crash (EAGAIN), and damaged journals and snapshots.
#include <gtest/gtest.h>

#include <filesystem>

#include "durable_fixture.h"
#include "xenstore/errors.h"

using namespace xstest;
using pv::xenstore::Quotas;

namespace {
using Events = std::vector<Event>;
}

TEST_F(DurableServer, TreeAndPermissionsSurviveACrash) {
  {
    auto dom0 = client(0);
    ASSERT_TRUE(dom0->write("/tool/app/key", "value").ok());
    ASSERT_TRUE(dom0->set_perms("/tool/app/key", {"n0", "r5"}).ok());
    ASSERT_TRUE(dom0->mkdir("/tool/app/empty").ok());
    ASSERT_TRUE(dom0->write("/tool/gone", "x").ok());
    ASSERT_TRUE(dom0->rm("/tool/gone").ok());
    crash();
  }
  start();
  auto dom0 = client(0);
  EXPECT_EQ(dom0->read("/tool/app/key").value(), "value");
  EXPECT_EQ(dom0->get_perms("/tool/app/key").strings(), (std::vector<std::string>{"n0", "r5"}));
  EXPECT_EQ(dom0->read("/tool/app/empty").value(), "");
  EXPECT_EQ(dom0->read("/tool/gone").err(), "ENOENT");
  EXPECT_EQ(client(5)->read("/tool/app/key").value(), "value");
  EXPECT_EQ(client(6)->read("/tool/app/key").err(), "EACCES");
  // The default layout came back from the snapshot, not from the constructor.
  EXPECT_EQ(dom0->get_perms("/local/domain/0").strings(), (std::vector<std::string>{"n0"}));
}

TEST_F(DurableServer, GenerationsAreKept) {
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->write("/tool/a", "1").ok());
  auto part = [&] { return dom0->request(MsgType::kDirectoryPart, args({"/tool", "0"})).strings().at(0); };
  const std::string before = part();
  restart();
  dom0 = client(0);
  EXPECT_EQ(part(), before);
  ASSERT_TRUE(dom0->write("/tool/b", "2").ok());
  EXPECT_GT(std::stoull(part()), std::stoull(before)) << "generations keep counting upwards";
}

TEST_F(DurableServer, CommittedTransactionsAreJournaled) {
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->write("/tool/t/old", "o").ok());
  const uint32_t tx = dom0->start();
  ASSERT_NE(tx, 0u);
  ASSERT_TRUE(dom0->write("/tool/t/new", "n", tx).ok());
  ASSERT_TRUE(dom0->rm("/tool/t/old", tx).ok());
  ASSERT_TRUE(dom0->end(tx, true).ok());
  restart();
  dom0 = client(0);
  EXPECT_EQ(dom0->read("/tool/t/new").value(), "n");
  EXPECT_EQ(dom0->read("/tool/t/old").err(), "ENOENT");
}

TEST_F(DurableServer, NodeQuotaIsRecomputedFromTheTree) {
  Quotas q;
  q.nodes_per_domain = 3;
  restart(q);
  server().introduce_domain(5, 100, 1);
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->mkdir("/local/domain/5").ok());
  ASSERT_TRUE(dom0->set_perms("/local/domain/5", {"n5"}).ok());  // 1 node
  auto guest = client(5);
  ASSERT_TRUE(guest->write("data/a", "1").ok());  // 3 nodes
  restart(q);
  guest = client(5);
  EXPECT_EQ(guest->write("data/b", "2").err(), "ENOSPC") << "the restored nodes count against the quota";
  EXPECT_TRUE(guest->write("data/a", "changed").ok());
}

TEST_F(DurableServer, DomainIntroductionsSurvive) {
  server().introduce_domain(5, 100, 7);
  server().introduce_domain(6, 200, 8);
  server().introduce_domain(9, 300, 9);
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->request(MsgType::kSetTarget, args({"5", "6"})).ok());
  server().release_domain(9);
  restart();
  EXPECT_TRUE(server().is_introduced(5));
  EXPECT_TRUE(server().is_introduced(6));
  EXPECT_FALSE(server().is_introduced(9));
  EXPECT_EQ(server().introduced_domains(), (std::vector<DomId>{5, 6}));
  // Re-introducing with the same page is accepted (pvd reattaching), another page is not.
  EXPECT_NO_THROW(server().introduce_domain(5, 100, 7));
  EXPECT_THROW(server().introduce_domain(5, 101, 7), pv::xenstore::RequestError);
  // The target survived: domain 5 has domain 6's rights.
  dom0 = client(0);
  ASSERT_TRUE(dom0->write("/tool/six", "s").ok());
  ASSERT_TRUE(dom0->set_perms("/tool/six", {"n6"}).ok());
  EXPECT_EQ(client(5)->read("/tool/six").value(), "s");
}

TEST_F(DurableServer, GuestWatchesAreRestoredAndFireOnce) {
  server().introduce_domain(5, 100, 1);
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->mkdir("/local/domain/5/control").ok());
  ASSERT_TRUE(dom0->set_perms("/local/domain/5", {"n5"}).ok());
  ASSERT_TRUE(dom0->set_perms("/local/domain/5/control", {"n5"}).ok());
  {
    auto guest = client(5);
    ASSERT_TRUE(guest->watch("control/shutdown", "rel").ok());
    ASSERT_TRUE(guest->watch("/local/domain/5/control", "abs").ok());
    ASSERT_TRUE(guest->watch("@releaseDomain", "special").ok());
    ASSERT_TRUE(guest->watch("/tool/x", "dropped").ok());
    ASSERT_TRUE(guest->unwatch("/tool/x", "dropped").ok());
    guest->events();
    auto watcher0 = client(0);
    ASSERT_TRUE(watcher0->watch("/local", "dom0").ok());
    crash();
  }
  start();
  auto guest = client(5);
  EXPECT_EQ(guest->events(), (Events{{"control/shutdown", "rel"}, {"/local/domain/5/control", "abs"},
                                     {"@releaseDomain", "special"}}));
  ASSERT_TRUE(client(0)->write("/local/domain/5/control/shutdown", "poweroff").ok());
  EXPECT_EQ(guest->events(), (Events{{"control/shutdown", "rel"}, {"/local/domain/5/control/shutdown", "abs"}}));
  EXPECT_EQ(guest->watch("control/shutdown", "rel").err(), "EEXIST") << "the watch is the connection's again";
  EXPECT_EQ(guest->events(), Events{});
  auto dom0_again = client(0);
  ASSERT_TRUE(dom0_again->write("/local/x", "1").ok());
  EXPECT_EQ(dom0_again->events(), Events{}) << "dom0 socket clients' watches are not kept";
}

TEST_F(DurableServer, WatchesOfAClosedGuestConnectionAreNotRestored) {
  server().introduce_domain(5, 100, 1);
  {
    auto guest = client(5);
    ASSERT_TRUE(guest->watch("@introduceDomain", "t").ok());
  }  // disconnected: its watches are gone, as in Xen
  restart();
  EXPECT_EQ(client(5)->events(), Events{});
}

TEST_F(DurableServer, ACleanStopKeepsGuestWatchesThroughTheConnectionsClosing) {
  server().introduce_domain(5, 100, 1);
  {
    auto guest = client(5);
    ASSERT_TRUE(guest->watch("@introduceDomain", "t").ok());
    guest->events();
    server().stop_journal();  // pvd exiting: its links close afterwards
  }
  restart();
  EXPECT_EQ(client(5)->events(), (Events{{"@introduceDomain", "t"}}));
}

TEST_F(DurableServer, ReleasedDomainLosesItsWatches) {
  server().introduce_domain(5, 100, 1);
  auto guest = client(5);
  ASSERT_TRUE(guest->watch("@introduceDomain", "t").ok());
  server().release_domain(5);
  restart();
  EXPECT_EQ(client(5)->events(), Events{});
}

TEST_F(DurableServer, TransactionOpenAtTheCrashGetsEagain) {
  server().introduce_domain(5, 100, 1);
  ASSERT_TRUE(client(0)->mkdir("/local/domain/5").ok());
  ASSERT_TRUE(client(0)->set_perms("/local/domain/5", {"n5"}).ok());
  uint32_t tx = 0;
  {
    auto guest = client(5);
    tx = guest->start();
    ASSERT_NE(tx, 0u);
    ASSERT_TRUE(guest->write("data/in-tx", "1", tx).ok());
    const uint32_t done = guest->start();
    ASSERT_TRUE(guest->end(done, true).ok());
    crash();
  }
  start();
  auto guest = client(5);
  EXPECT_EQ(guest->read("data/in-tx", tx).err(), "EAGAIN");
  EXPECT_EQ(guest->write("data/in-tx", "2", tx).err(), "EAGAIN");
  EXPECT_EQ(guest->end(tx, true).err(), "EAGAIN") << "the guest retries the transaction";
  EXPECT_EQ(guest->read("data/in-tx", tx).err(), "ENOENT") << "ended: the id is no longer known";
  EXPECT_EQ(guest->read("data/in-tx").err(), "ENOENT") << "nothing of the lost transaction applied";
  const uint32_t again = guest->start();
  EXPECT_GT(again, tx) << "new transaction ids do not reuse lost ones";
  ASSERT_TRUE(guest->write("data/in-tx", "3", again).ok());
  EXPECT_TRUE(guest->end(again, true).ok());
  EXPECT_EQ(guest->read("data/in-tx").value(), "3");
}

TEST_F(DurableServer, LostTransactionSurvivesAnotherRestartUntilEnded) {
  server().introduce_domain(5, 100, 1);
  uint32_t tx = 0;
  {
    auto guest = client(5);
    tx = guest->start();
    crash();
  }
  start();
  restart();  // the guest had not come back yet
  EXPECT_EQ(client(5)->end(tx, false).err(), "EAGAIN");
}

TEST_F(DurableServer, TornJournalTailIsIgnored) {
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->write("/tool/first", "1").ok());
  ASSERT_TRUE(dom0->write("/tool/second", "2").ok());
  crash();
  std::string j = contents(journal());
  overwrite(journal(), j.substr(0, j.size() - 3));  // the last write cut short
  start();
  dom0 = client(0);
  EXPECT_EQ(dom0->read("/tool/first").value(), "1");
  EXPECT_EQ(dom0->read("/tool/second").err(), "ENOENT");
  // The restart wrote a clean snapshot: what comes now is kept too.
  ASSERT_TRUE(dom0->write("/tool/third", "3").ok());
  restart();
  dom0 = client(0);
  EXPECT_EQ(dom0->read("/tool/first").value(), "1");
  EXPECT_EQ(dom0->read("/tool/third").value(), "3");
}

TEST_F(DurableServer, JournalRecordWithABadChecksumIsIgnored) {
  auto dom0 = client(0);
  ASSERT_TRUE(dom0->write("/tool/first", "1").ok());
  ASSERT_TRUE(dom0->write("/tool/second", "2").ok());
  crash();
  std::string j = contents(journal());
  j.back() ^= 0x55;
  overwrite(journal(), j);
  start();
  dom0 = client(0);
  EXPECT_EQ(dom0->read("/tool/first").value(), "1");
  EXPECT_EQ(dom0->read("/tool/second").err(), "ENOENT");
}

TEST_F(DurableServer, DamagedSnapshotMeansAnEmptyStoreNotACrash) {
  ASSERT_TRUE(client(0)->write("/tool/kept", "1").ok());
  server().introduce_domain(5, 100, 1);
  crash();
  std::string s = contents(snapshot());
  s[s.size() / 2] ^= 0x55;
  overwrite(snapshot(), s);
  ASSERT_NO_THROW(start());
  auto dom0 = client(0);
  EXPECT_EQ(dom0->read("/tool/kept").err(), "ENOENT");
  EXPECT_FALSE(server().is_introduced(5));
  EXPECT_TRUE(dom0->read("/local/domain/0").ok()) << "the default layout";
  EXPECT_TRUE(std::filesystem::exists(snapshot() + ".damaged")) << "kept for a post-mortem";
  ASSERT_TRUE(dom0->write("/tool/new", "n").ok());
  restart();
  EXPECT_EQ(client(0)->read("/tool/new").value(), "n") << "durable again";
}

TEST_F(DurableServer, UnusableDirectoryMeansAnInMemoryStore) {
  crash();
  overwrite(root_ + "/file", "x");
  dir_ = root_ + "/file/xenstore";
  ASSERT_NO_THROW(start());
  EXPECT_FALSE(server().durable());
  EXPECT_TRUE(client(0)->write("/tool/a", "1").ok());
}

TEST_F(DurableServer, JournalIsCompactedAndStaysBounded) {
  auto dom0 = client(0);
  const std::string big(2000, 'v');
  for (int i = 0; i < 3000; i++) ASSERT_TRUE(dom0->write("/tool/big", big + std::to_string(i)).ok());
  EXPECT_LT(std::filesystem::file_size(journal()), 5u << 20);
  restart();
  EXPECT_EQ(client(0)->read("/tool/big").value(), big + "2999");
}
