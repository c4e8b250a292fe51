// READ, WRITE, MKDIR, RM, DIRECTORY, DIRECTORY_PART, GET_DOMAIN_PATH,
// CONTROL and the wire-level reply rules, over in-memory connections.
#include <gtest/gtest.h>

#include "test_client.h"

using namespace xstest;
using pv::xenstore::XenstoreServer;

namespace {
struct XenstoreNodes : ::testing::Test {
  XenstoreServer server;
  TestClient dom0{server, 0};
};
}  // namespace

TEST_F(XenstoreNodes, InitialLayoutIsXens) {
  EXPECT_EQ(dom0.directory("/").strings(), (std::vector<std::string>{"local", "tool", "vm"}));
  EXPECT_EQ(dom0.directory("/local").strings(), (std::vector<std::string>{"domain"}));
  EXPECT_EQ(dom0.directory("/local/domain").strings(), (std::vector<std::string>{"0"}));
  EXPECT_EQ(dom0.get_perms("/").strings(), (std::vector<std::string>{"n0"}));
}

TEST_F(XenstoreNodes, WriteReadAndCreateParents) {
  ASSERT_EQ(dom0.write("/a/b/c", "hello").value(), std::string("OK\0", 3));
  EXPECT_EQ(dom0.read("/a/b/c").value(), "hello") << "READ replies the raw value, no NUL";
  EXPECT_EQ(dom0.read("/a/b").value(), "") << "WRITE creates missing parents, empty";
  EXPECT_EQ(dom0.directory("/a").strings(), (std::vector<std::string>{"b"}));
  ASSERT_TRUE(dom0.write("/a/b/c", "again").ok());
  EXPECT_EQ(dom0.read("/a/b/c").value(), "again");
}

TEST_F(XenstoreNodes, ValuesAreBinary) {
  std::string value("x\0y\0", 4);
  ASSERT_TRUE(dom0.write("/bin", value).ok());
  EXPECT_EQ(dom0.read("/bin").payload, value);
  ASSERT_TRUE(dom0.write("/empty", "").ok());
  EXPECT_EQ(dom0.read("/empty").payload, "");
}

TEST_F(XenstoreNodes, MissingNodes) {
  EXPECT_EQ(dom0.read("/nope").err(), "ENOENT");
  EXPECT_EQ(dom0.directory("/nope").err(), "ENOENT");
  EXPECT_EQ(dom0.get_perms("/nope").err(), "ENOENT");
}

TEST_F(XenstoreNodes, MkdirKeepsExistingValues) {
  ASSERT_TRUE(dom0.write("/m", "keep").ok());
  ASSERT_TRUE(dom0.mkdir("/m").ok());
  EXPECT_EQ(dom0.read("/m").value(), "keep");
  ASSERT_TRUE(dom0.mkdir("/m/x/y").ok());
  EXPECT_EQ(dom0.read("/m/x/y").value(), "");
}

TEST_F(XenstoreNodes, RmRemovesSubtree) {
  ASSERT_TRUE(dom0.write("/r/a/b", "1").ok());
  ASSERT_TRUE(dom0.write("/r/c", "2").ok());
  ASSERT_TRUE(dom0.rm("/r/a").ok());
  EXPECT_EQ(dom0.read("/r/a/b").err(), "ENOENT");
  EXPECT_EQ(dom0.directory("/r").strings(), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(dom0.rm("/r/a").ok()) << "a missing node is fine if its parent exists";
  EXPECT_EQ(dom0.rm("/r/a/b").err(), "ENOENT") << "but not if the parent is missing too";
  EXPECT_EQ(dom0.rm("/").err(), "EINVAL");
}

TEST_F(XenstoreNodes, RelativePathsAreUnderTheCallersHome) {
  ASSERT_TRUE(dom0.write("name", "Domain-0").ok());
  EXPECT_EQ(dom0.read("/local/domain/0/name").value(), "Domain-0");
  EXPECT_EQ(dom0.read("name").value(), "Domain-0");
}

TEST_F(XenstoreNodes, InvalidPaths) {
  for (std::string bad : {"/a//b", "/a/", "/a b", "", "/a.b", "@special"})
    EXPECT_EQ(dom0.write(bad, "v").err(), "EINVAL") << bad;
  EXPECT_EQ(dom0.read("/" + std::string(2048, 'a')).err(), "EINVAL");
  EXPECT_EQ(dom0.read("/" + std::string(2047, 'a')).err(), "ENOENT");
  EXPECT_EQ(dom0.read(std::string(2049, 'a')).err(), "EINVAL");
}

TEST_F(XenstoreNodes, RepliesEchoRequestAndTransactionIds) {
  uint32_t tx = dom0.start();
  ASSERT_NE(tx, 0u);
  Reply r = dom0.write("/t", "v", tx);
  EXPECT_EQ(r.type, static_cast<uint32_t>(MsgType::kWrite));
  EXPECT_EQ(r.tx_id, tx);
  Reply e = dom0.read("/nope", tx);
  EXPECT_EQ(e.type, static_cast<uint32_t>(MsgType::kError)) << "errors come back as XS_ERROR";
  EXPECT_EQ(e.tx_id, tx);
  EXPECT_EQ(e.payload, std::string("ENOENT\0", 7));
  EXPECT_NE(e.req_id, r.req_id);
}

TEST_F(XenstoreNodes, DirectoryTooLargeAndDirectoryPart) {
  // 300 children of 20-byte names: about 6300 bytes of listing.
  std::vector<std::string> names;
  for (int i = 0; i < 300; i++) {
    char name[32];
    std::snprintf(name, sizeof name, "child-%014d", i);
    names.push_back(name);
    ASSERT_TRUE(dom0.write(std::string("/big/") + name, "").ok());
  }
  EXPECT_EQ(dom0.directory("/big").err(), "E2BIG");

  std::vector<std::string> got;
  std::string generation;
  size_t offset = 0;
  for (int round = 0; round < 10; round++) {
    Reply r = dom0.request(MsgType::kDirectoryPart, args({"/big", std::to_string(offset)}));
    ASSERT_TRUE(r.ok()) << r.err();
    ASSERT_LE(r.payload.size(), 4096u);
    size_t gen_end = r.payload.find('\0');
    if (round == 0) generation = r.payload.substr(0, gen_end);
    EXPECT_EQ(r.payload.substr(0, gen_end), generation);
    std::string list = r.payload.substr(gen_end + 1);
    bool last = list.size() >= 2 && list.substr(list.size() - 2) == std::string("\0\0", 2);
    if (last) list.pop_back();
    offset += list.size();
    for (auto& s : Reply{0, 0, 0, list}.strings()) got.push_back(s);
    if (last) break;
  }
  EXPECT_EQ(got, names);
  Reply end = dom0.request(MsgType::kDirectoryPart, args({"/big", std::to_string(offset)}));
  EXPECT_EQ(end.payload, generation + std::string("\0\0", 2)) << "offset at the end: empty list";
  EXPECT_EQ(dom0.request(MsgType::kDirectoryPart, args({"/big", std::to_string(offset + 1)})).err(), "EINVAL");
  ASSERT_TRUE(dom0.write("/big/another", "").ok());
  Reply changed = dom0.request(MsgType::kDirectoryPart, args({"/big", "0"}));
  EXPECT_NE(changed.payload.substr(0, changed.payload.find('\0')), generation) << "generation changes";
}

TEST_F(XenstoreNodes, GetDomainPath) {
  EXPECT_EQ(dom0.request(MsgType::kGetDomainPath, args({"7"})).payload, std::string("/local/domain/7\0", 16));
  EXPECT_EQ(dom0.request(MsgType::kGetDomainPath, args({"x"})).err(), "EINVAL");
}

TEST_F(XenstoreNodes, Control) {
  EXPECT_TRUE(dom0.request(MsgType::kControl, args({"check"})).ok());
  EXPECT_FALSE(dom0.request(MsgType::kControl, args({"help"})).strings().empty());
  EXPECT_EQ(dom0.request(MsgType::kControl, args({"frobnicate"})).err(), "EINVAL");
  TestClient guest(server, 3);
  EXPECT_EQ(guest.request(MsgType::kControl, args({"check"})).err(), "EACCES");
}
