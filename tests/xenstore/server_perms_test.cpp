// Xen's permission rules through the protocol.
#include <gtest/gtest.h>

#include "test_client.h"

using namespace xstest;
using pv::xenstore::XenstoreServer;

namespace {
struct XenstorePerms : ::testing::Test {
  XenstoreServer server;
  TestClient dom0{server, 0};
  TestClient dom5{server, 5};
  TestClient dom6{server, 6};

  void SetUp() override {
    // What a toolstack does for a new domain: its home, owned by it.
    ASSERT_TRUE(dom0.mkdir("/local/domain/5").ok());
    ASSERT_TRUE(dom0.set_perms("/local/domain/5", {"n5"}).ok());
  }
};
}  // namespace

TEST_F(XenstorePerms, GuestsCannotReadDom0Nodes) {
  EXPECT_EQ(dom5.read("/local").err(), "EACCES");
  EXPECT_EQ(dom5.directory("/").err(), "EACCES");
  EXPECT_EQ(dom5.write("/vm/x", "1").err(), "EACCES");
  EXPECT_EQ(dom5.write("/local/domain/0/x", "1").err(), "EACCES");
}

TEST_F(XenstorePerms, MissingNodeErrnoDependsOnTheParent) {
  EXPECT_EQ(dom5.read("/local/domain/5/nope").err(), "ENOENT") << "its own home: it may know";
  EXPECT_EQ(dom6.read("/local/domain/5/nope").err(), "EACCES") << "someone else's: it may not";
}

TEST_F(XenstorePerms, GuestOwnsWhatItCreatesInItsHome) {
  ASSERT_TRUE(dom5.write("data/x", "1").ok()) << "relative to /local/domain/5";
  EXPECT_EQ(dom0.read("/local/domain/5/data/x").value(), "1");
  EXPECT_EQ(dom0.get_perms("/local/domain/5/data/x").strings(), (std::vector<std::string>{"n5"}));
  EXPECT_EQ(dom6.read("/local/domain/5/data/x").err(), "EACCES");
}

TEST_F(XenstorePerms, CreatedNodesInheritTheParentsPermissions) {
  ASSERT_TRUE(dom0.set_perms("/local/domain/5", {"n5", "r6"}).ok());
  ASSERT_TRUE(dom5.write("/local/domain/5/shared", "s").ok());
  EXPECT_EQ(dom0.get_perms("/local/domain/5/shared").strings(), (std::vector<std::string>{"n5", "r6"}));
  EXPECT_EQ(dom6.read("/local/domain/5/shared").value(), "s");
  EXPECT_EQ(dom6.write("/local/domain/5/shared", "t").err(), "EACCES");
  // dom0 creating a node keeps the inherited owner (Xen: only unprivileged
  // creators become the owner).
  ASSERT_TRUE(dom0.write("/local/domain/5/from-dom0", "").ok());
  EXPECT_EQ(dom0.get_perms("/local/domain/5/from-dom0").strings(), (std::vector<std::string>{"n5", "r6"}));
}

TEST_F(XenstorePerms, EntriesGrantSpecificDomains) {
  ASSERT_TRUE(dom0.write("/shared/r", "r").ok());
  ASSERT_TRUE(dom0.set_perms("/shared", {"n0", "r5", "b6"}).ok());
  ASSERT_TRUE(dom0.set_perms("/shared/r", {"n0", "r5", "b6"}).ok());
  EXPECT_EQ(dom5.read("/shared/r").value(), "r");
  EXPECT_EQ(dom5.write("/shared/r", "x").err(), "EACCES");
  EXPECT_TRUE(dom6.write("/shared/r", "y").ok());
  EXPECT_TRUE(dom6.write("/shared/new", "z").ok()) << "write on the parent allows creating";
  EXPECT_EQ(dom0.get_perms("/shared/new").strings(), (std::vector<std::string>{"n6", "r5", "b6"}));
  ASSERT_TRUE(dom0.write("/wo", "").ok());
  ASSERT_TRUE(dom0.set_perms("/wo", {"n0", "w5"}).ok());
  EXPECT_TRUE(dom5.write("/wo", "blind").ok());
  EXPECT_EQ(dom5.read("/wo").err(), "EACCES");
}

TEST_F(XenstorePerms, OwnerEntryIsTheDefault) {
  ASSERT_TRUE(dom0.write("/pub", "p").ok());
  ASSERT_TRUE(dom0.set_perms("/pub", {"r0"}).ok());
  EXPECT_EQ(dom5.read("/pub").value(), "p");
  EXPECT_EQ(dom6.write("/pub", "x").err(), "EACCES");
}

TEST_F(XenstorePerms, SetPermsRules) {
  ASSERT_TRUE(dom5.write("mine", "").ok());
  EXPECT_TRUE(dom5.set_perms("mine", {"n5", "r6"}).ok()) << "the owner may";
  EXPECT_EQ(dom6.set_perms("/local/domain/5/mine", {"n6"}).err(), "EACCES") << "others may not";
  EXPECT_EQ(dom5.set_perms("mine", {"n6"}).err(), "EPERM") << "only dom0 gives nodes away";
  EXPECT_EQ(dom5.set_perms("mine", {"x5"}).err(), "EINVAL");
  EXPECT_EQ(dom5.request(MsgType::kSetPerms, args({"mine"})).err(), "EINVAL") << "no permissions at all";
  EXPECT_TRUE(dom0.set_perms("/local/domain/5/mine", {"n6"}).ok());
  EXPECT_EQ(dom5.read("mine").err(), "EACCES");
}

TEST_F(XenstorePerms, TargetGetsTheTargetsRights) {
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"6", "100", "1"})).ok());
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"5", "101", "2"})).ok());
  ASSERT_TRUE(dom5.write("secret", "s").ok());
  EXPECT_EQ(dom6.read("/local/domain/5/secret").err(), "EACCES");
  ASSERT_TRUE(dom0.request(MsgType::kSetTarget, args({"6", "5"})).ok());
  EXPECT_EQ(dom6.read("/local/domain/5/secret").value(), "s");
  EXPECT_EQ(dom5.request(MsgType::kSetTarget, args({"5", "6"})).err(), "EACCES");
  EXPECT_EQ(dom0.request(MsgType::kSetTarget, args({"9", "5"})).err(), "ENOENT");
}
