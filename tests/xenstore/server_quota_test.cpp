// Quotas: a client over a limit gets an error (or back-pressure), never
// unbounded growth; dom0 is exempt from the store quotas as in Xen.
#include <gtest/gtest.h>

#include "test_client.h"

using namespace xstest;
using pv::xenstore::Quotas;
using pv::xenstore::XenstoreServer;

namespace {
Quotas small_quotas() {
  Quotas q;
  q.nodes_per_domain = 5;
  q.max_entry_size = 16;
  q.watches_per_connection = 3;
  q.transactions_per_connection = 2;
  q.dom0_watches_per_connection = 4;
  q.dom0_transactions_per_connection = 3;
  q.perms_per_node = 2;
  q.max_pending_replies = 4;
  q.max_pending_output_bytes = 200;
  return q;
}

struct XenstoreQuotas : ::testing::Test {
  XenstoreServer server{small_quotas()};
  TestClient dom0{server, 0};
  TestClient guest{server, 3};
  void SetUp() override {
    ASSERT_TRUE(dom0.mkdir("/local/domain/3").ok());
    ASSERT_TRUE(dom0.set_perms("/local/domain/3", {"n3"}).ok());  // owned by 3: counts as 1 node
  }
};
}  // namespace

TEST_F(XenstoreQuotas, NodesPerDomain) {
  ASSERT_TRUE(guest.write("a", "").ok());
  ASSERT_TRUE(guest.write("b/c", "").ok());  // 4 nodes now
  EXPECT_EQ(guest.write("d/e", "").err(), "ENOSPC") << "would be 6";
  EXPECT_EQ(guest.read("d").err(), "ENOENT") << "nothing half-created";
  ASSERT_TRUE(guest.write("d", "").ok());
  EXPECT_EQ(guest.write("f", "").err(), "ENOSPC");
  ASSERT_TRUE(guest.write("a", "rewrite is fine").ok());
  ASSERT_TRUE(guest.rm("b").ok());
  EXPECT_TRUE(guest.write("f", "").ok()) << "removing frees quota";
  uint32_t tx = guest.start();
  ASSERT_TRUE(guest.write("g", "", tx).ok());
  EXPECT_EQ(guest.write("h", "", tx).err(), "ENOSPC") << "also inside transactions";
  ASSERT_TRUE(guest.end(tx, false).ok());
  for (int i = 0; i < 20; i++) ASSERT_TRUE(dom0.write("/dom0/n" + std::to_string(i), "").ok()) << "dom0 is exempt";
}

TEST_F(XenstoreQuotas, NodesPerDomainHoldAcrossConcurrentTransactions) {
  // Two transactions in separate directories (no conflict): each fits on
  // its own snapshot, together they would pass domain 3's 5 nodes.
  ASSERT_TRUE(guest.write("d1", "").ok());
  ASSERT_TRUE(guest.write("d2", "").ok());  // 3 nodes
  uint32_t t1 = guest.start(), t2 = guest.start();
  ASSERT_TRUE(guest.write("d1/a", "", t1).ok());  // 4 in t1's view
  ASSERT_TRUE(guest.write("d2/b", "", t2).ok());
  ASSERT_TRUE(guest.write("d2/c", "", t2).ok());  // 5 in t2's view
  ASSERT_TRUE(guest.end(t1, true).ok());
  EXPECT_EQ(guest.end(t2, true).err(), "ENOSPC") << "6 nodes after both";
  EXPECT_EQ(guest.read("d2/b").err(), "ENOENT") << "a refused commit changes nothing";
  EXPECT_TRUE(guest.read("d1/a").ok());
}

TEST_F(XenstoreQuotas, EntrySize) {
  EXPECT_TRUE(guest.write("v", std::string(16, 'x')).ok());
  EXPECT_EQ(guest.write("v", std::string(17, 'x')).err(), "ENOSPC");
  EXPECT_TRUE(dom0.write("/big", std::string(4000, 'x')).ok()) << "dom0 is exempt";
}

TEST_F(XenstoreQuotas, Watches) {
  for (int i = 0; i < 3; i++) ASSERT_TRUE(guest.watch("w" + std::to_string(i), "t").ok());
  EXPECT_EQ(guest.watch("w9", "t").err(), "E2BIG");
  ASSERT_TRUE(guest.unwatch("w0", "t").ok());
  EXPECT_TRUE(guest.watch("w9", "t").ok());
  for (int i = 0; i < 4; i++) ASSERT_TRUE(dom0.watch("/w" + std::to_string(i), "t").ok());
  EXPECT_EQ(dom0.watch("/w9", "t").err(), "E2BIG") << "dom0 connections are bounded too";
}

TEST_F(XenstoreQuotas, Transactions) {
  uint32_t t1 = guest.start(), t2 = guest.start();
  ASSERT_NE(t1, 0u);
  ASSERT_NE(t2, 0u);
  EXPECT_EQ(guest.request(MsgType::kTransactionStart, std::string(1, '\0')).err(), "ENOSPC");
  ASSERT_TRUE(guest.end(t1, false).ok());
  EXPECT_NE(guest.start(), 0u);
}

TEST_F(XenstoreQuotas, PermissionEntries) {
  ASSERT_TRUE(guest.write("p", "").ok());
  EXPECT_TRUE(guest.set_perms("p", {"n3", "r0"}).ok());
  EXPECT_EQ(guest.set_perms("p", {"n3", "r0", "r1"}).err(), "ENOSPC");
}

TEST_F(XenstoreQuotas, PendingRepliesHoldBackFurtherRequests) {
  auto conn = server.connect(0, "pipelining client");
  std::string batch;
  for (uint32_t i = 1; i <= 10; i++)
    batch += pv::xenstore::encode({static_cast<uint32_t>(MsgType::kRead), i, 0, std::string("/\0", 2)});
  server.receive(*conn, batch);
  EXPECT_EQ(conn->pending_replies(), 4u);
  EXPECT_FALSE(server.wants_input(*conn));
  EXPECT_GT(conn->buffered_input(), 0u);
  conn->take_output();
  EXPECT_TRUE(server.wants_input(*conn));
  server.pump(*conn);
  EXPECT_EQ(conn->pending_replies(), 4u);
  conn->take_output();
  server.pump(*conn);
  EXPECT_EQ(conn->pending_replies(), 2u);
  EXPECT_EQ(conn->buffered_input(), 0u);
  server.disconnect(*conn);
}

TEST_F(XenstoreQuotas, WatchEventsForAClientThatDoesNotReadAreDropped) {
  auto conn = server.connect(0, "sleepy client");
  server.receive(*conn, pv::xenstore::encode({static_cast<uint32_t>(MsgType::kWatch), 1, 0,
                                          xstest::args({"/flood", "t"})}));
  for (int i = 0; i < 50; i++) ASSERT_TRUE(dom0.write("/flood/x", std::to_string(i)).ok());
  EXPECT_LE(conn->pending_output_bytes(), 200u + 64u);
  EXPECT_GT(conn->dropped_events(), 0u);
  server.disconnect(*conn);
}
