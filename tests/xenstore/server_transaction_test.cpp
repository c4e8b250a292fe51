// TRANSACTION_START / TRANSACTION_END: snapshot isolation, conflicts (EAGAIN).
#include <gtest/gtest.h>

#include "test_client.h"

using namespace xstest;
using pv::xenstore::XenstoreServer;

namespace {
struct XenstoreTransactions : ::testing::Test {
  XenstoreServer server;
  TestClient a{server, 0};
  TestClient b{server, 0};
};
}  // namespace

TEST_F(XenstoreTransactions, ChangesAreInvisibleUntilCommit) {
  ASSERT_TRUE(a.write("/x", "old").ok());
  uint32_t tx = a.start();
  ASSERT_NE(tx, 0u);
  ASSERT_TRUE(a.write("/x", "new", tx).ok());
  ASSERT_TRUE(a.write("/y/z", "created", tx).ok());
  EXPECT_EQ(a.read("/x", tx).value(), "new");
  EXPECT_EQ(b.read("/x").value(), "old");
  EXPECT_EQ(b.read("/y/z").err(), "ENOENT");
  ASSERT_TRUE(a.end(tx, true).ok());
  EXPECT_EQ(b.read("/x").value(), "new");
  EXPECT_EQ(b.read("/y/z").value(), "created");
  EXPECT_EQ(b.read("/y").value(), "");
}

TEST_F(XenstoreTransactions, SnapshotDoesNotSeeLaterChanges) {
  ASSERT_TRUE(a.write("/s", "1").ok());
  uint32_t tx = a.start();
  ASSERT_TRUE(b.write("/s", "2").ok());
  EXPECT_EQ(a.read("/s", tx).value(), "1");
  EXPECT_EQ(a.end(tx, true).err(), "EAGAIN") << "it read /s, which changed";
  EXPECT_EQ(a.end(tx, false).err(), "ENOENT") << "the transaction is gone after EAGAIN";
}

TEST_F(XenstoreTransactions, AbortDiscards) {
  uint32_t tx = a.start();
  ASSERT_TRUE(a.write("/gone", "v", tx).ok());
  ASSERT_TRUE(a.end(tx, false).ok());
  EXPECT_EQ(a.read("/gone").err(), "ENOENT");
}

TEST_F(XenstoreTransactions, UnrelatedChangesDoNotConflict) {
  ASSERT_TRUE(a.write("/p/q", "1").ok());
  uint32_t tx = a.start();
  ASSERT_TRUE(a.write("/p/q", "2", tx).ok());
  ASSERT_TRUE(b.write("/elsewhere", "x").ok());
  EXPECT_TRUE(a.end(tx, true).ok());
  EXPECT_EQ(b.read("/p/q").value(), "2");
  EXPECT_EQ(b.read("/elsewhere").value(), "x");
}

TEST_F(XenstoreTransactions, ConcurrentWritersOneWins) {
  uint32_t t1 = a.start();
  uint32_t t2 = b.start();
  ASSERT_TRUE(a.write("/race", "a", t1).ok());
  ASSERT_TRUE(b.write("/race", "b", t2).ok());
  EXPECT_TRUE(a.end(t1, true).ok());
  EXPECT_EQ(b.end(t2, true).err(), "EAGAIN");
  EXPECT_EQ(a.read("/race").value(), "a");
}

TEST_F(XenstoreTransactions, ConflictOnCreatedChildOfReadDirectory) {
  ASSERT_TRUE(a.mkdir("/dir").ok());
  uint32_t tx = a.start();
  EXPECT_TRUE(a.directory("/dir", tx).strings().empty());
  ASSERT_TRUE(b.write("/dir/new", "").ok());
  ASSERT_TRUE(a.write("/other", "x", tx).ok());
  EXPECT_EQ(a.end(tx, true).err(), "EAGAIN");
}

TEST_F(XenstoreTransactions, ConflictWhenRemovedSubtreeChanged) {
  ASSERT_TRUE(a.write("/tree/leaf", "1").ok());
  uint32_t tx = a.start();
  ASSERT_TRUE(a.rm("/tree", tx).ok());
  ASSERT_TRUE(b.write("/tree/leaf", "2").ok());
  EXPECT_EQ(a.end(tx, true).err(), "EAGAIN");
  EXPECT_EQ(a.read("/tree/leaf").value(), "2");
}

TEST_F(XenstoreTransactions, RemoveAndRecreateInsideOneTransaction) {
  ASSERT_TRUE(a.write("/re/old", "o").ok());
  ASSERT_TRUE(a.write("/re/keep/deep", "d").ok());
  uint32_t tx = a.start();
  ASSERT_TRUE(a.rm("/re", tx).ok());
  ASSERT_TRUE(a.write("/re/keep", "k", tx).ok());
  ASSERT_TRUE(a.end(tx, true).ok());
  EXPECT_EQ(a.directory("/re").strings(), (std::vector<std::string>{"keep"}));
  EXPECT_EQ(a.read("/re/keep").value(), "k");
  EXPECT_EQ(a.read("/re/keep/deep").err(), "ENOENT");
  EXPECT_EQ(a.read("/re/old").err(), "ENOENT");
}

TEST_F(XenstoreTransactions, PermissionsAndMkdirInsideTransaction) {
  uint32_t tx = a.start();
  ASSERT_TRUE(a.mkdir("/tp/d", tx).ok());
  ASSERT_TRUE(a.set_perms("/tp/d", {"n3", "r0"}, tx).ok());
  EXPECT_EQ(a.get_perms("/tp/d", tx).strings(), (std::vector<std::string>{"n3", "r0"}));
  ASSERT_TRUE(a.end(tx, true).ok());
  EXPECT_EQ(b.get_perms("/tp/d").strings(), (std::vector<std::string>{"n3", "r0"}));
}

TEST_F(XenstoreTransactions, ProtocolErrors) {
  EXPECT_EQ(a.read("/", 12345).err(), "ENOENT") << "unknown transaction id";
  uint32_t tx = a.start();
  EXPECT_EQ(b.read("/", tx).err(), "ENOENT") << "transactions belong to their connection";
  EXPECT_EQ(a.request(MsgType::kTransactionStart, std::string(1, '\0'), tx).err(), "EBUSY");
  EXPECT_EQ(a.request(MsgType::kTransactionEnd, args({"X"}), tx).err(), "EINVAL");
  EXPECT_EQ(a.request(MsgType::kTransactionEnd, args({"T"}), 0).err(), "ENOENT");
  EXPECT_TRUE(a.end(tx, false).ok());
  uint32_t t2 = a.start();
  EXPECT_NE(t2, tx);
}
