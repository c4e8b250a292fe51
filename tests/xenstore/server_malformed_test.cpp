// Malformed input gets an error reply or closes that connection only.
#include <gtest/gtest.h>

#include <cstring>

#include "test_client.h"

using namespace xstest;
using pv::xenstore::Message;
using pv::xenstore::XenstoreServer;

namespace {
struct XenstoreMalformed : ::testing::Test {
  XenstoreServer server{{}, nullptr, [](std::string_view) {}};
  TestClient bad{server, 0};
  TestClient good{server, 0};
};

std::string raw(uint32_t type, uint32_t req, uint32_t len, const std::string& payload) {
  pv::xenstore::WireHeader hdr{type, req, 0, len};
  std::string out(sizeof hdr, '\0');
  std::memcpy(out.data(), &hdr, sizeof hdr);
  return out + payload;
}
}  // namespace

TEST_F(XenstoreMalformed, OversizedLengthClosesOnlyThatConnection) {
  ASSERT_TRUE(good.watch("/x", "t").ok());
  good.events();
  bad.send_raw(raw(2, 1, 4097, ""));
  EXPECT_TRUE(bad.connection().closed());
  EXPECT_NE(bad.connection().close_reason().find("4096"), std::string::npos);
  ASSERT_TRUE(good.write("/x", "still fine").ok());
  EXPECT_EQ(good.events().size(), 1u);
}

TEST_F(XenstoreMalformed, UnknownTypesGetENOSYS) {
  for (uint32_t type : {20u, 23u, 0xffffu, 15u, 16u}) {
    auto replies = bad.send_raw(raw(type, 7, 2, std::string("/\0", 2)));
    ASSERT_EQ(replies.size(), 1u) << type;
    EXPECT_EQ(replies[0].type, 16u);
    EXPECT_EQ(replies[0].req_id, 7u);
    EXPECT_EQ(replies[0].payload, std::string("ENOSYS\0", 7));
  }
  EXPECT_FALSE(bad.connection().closed());
}

TEST_F(XenstoreMalformed, MissingNulGetsEINVAL) {
  EXPECT_EQ(bad.request(MsgType::kRead, "/local").err(), "EINVAL");
  EXPECT_EQ(bad.request(MsgType::kWrite, "/local").err(), "EINVAL");
  EXPECT_EQ(bad.request(MsgType::kRead, std::string("/a\0/b\0", 6)).err(), "EINVAL") << "two arguments";
  EXPECT_EQ(bad.request(MsgType::kRead, "").err(), "EINVAL");
  EXPECT_EQ(bad.request(MsgType::kWatch, "/x").err(), "EINVAL");
  uint32_t tx = bad.start();
  EXPECT_EQ(bad.request(MsgType::kTransactionEnd, "T", tx).err(), "EINVAL");
  EXPECT_EQ(bad.request(MsgType::kDirectoryPart, args({"/", "x"})).err(), "EINVAL");
  EXPECT_TRUE(bad.read("/").ok()) << "the connection keeps working";
}

TEST_F(XenstoreMalformed, ByteAtATimeAndBatchedInput) {
  std::string two = pv::xenstore::encode({2, 1, 0, std::string("/\0", 2)}) +
                    pv::xenstore::encode({11, 2, 0, std::string("/k\0v", 4)});
  std::vector<Message> replies;
  for (char c : two)
    for (auto& m : bad.send_raw(std::string(1, c))) replies.push_back(m);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].req_id, 1u);
  EXPECT_EQ(replies[1].req_id, 2u);
  EXPECT_EQ(good.read("/k").value(), "v");
}

TEST_F(XenstoreMalformed, GarbageIsHarmless) {
  std::string junk;
  for (int i = 0; i < 64; i++) junk += static_cast<char>(i * 37 + 11);
  bad.send_raw(junk);  // whatever it parses to, the server survives
  EXPECT_TRUE(good.read("/").ok());
}
