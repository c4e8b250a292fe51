// INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED, RESUME and the DomainHooks.
#include <gtest/gtest.h>

#include <cerrno>

#include "test_client.h"
#include "xenstore/errors.h"

using namespace xstest;
using pv::xenstore::XenstoreServer;

namespace {
struct RecordingHooks : pv::xenstore::DomainHooks {
  int introduce(DomId domid, uint64_t gfn, uint32_t evtchn) override {
    introduced.push_back({domid, gfn, evtchn});
    return fail_with;
  }
  void release(DomId domid) override { released.push_back(domid); }
  struct Intro {
    DomId domid;
    uint64_t gfn;
    uint32_t evtchn;
  };
  std::vector<Intro> introduced;
  std::vector<DomId> released;
  int fail_with = 0;
};

struct XenstoreDomains : ::testing::Test {
  RecordingHooks hooks;
  XenstoreServer server{{}, &hooks};
  TestClient dom0{server, 0};
  Reply introduced(const std::string& domid) { return dom0.request(MsgType::kIsDomainIntroduced, args({domid})); }
};
}  // namespace

TEST_F(XenstoreDomains, IntroduceCallsTheHookAndRegistersTheDomain) {
  EXPECT_EQ(introduced("5").value(), std::string("F\0", 2));
  EXPECT_EQ(introduced("0").value(), std::string("T\0", 2)) << "dom0 is always there";
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"5", "-2", "9"})).ok());
  ASSERT_EQ(hooks.introduced.size(), 1u);
  EXPECT_EQ(hooks.introduced[0].domid, 5);
  EXPECT_EQ(hooks.introduced[0].gfn, static_cast<uint64_t>(-2)) << "gfn comes in signed decimal";
  EXPECT_EQ(hooks.introduced[0].evtchn, 9u);
  EXPECT_EQ(introduced("5").value(), std::string("T\0", 2));
  EXPECT_TRUE(server.is_introduced(5));
  // Again with the same page: the event channel is rebound, no new domain.
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"5", "-2", "10"})).ok());
  EXPECT_EQ(hooks.introduced.size(), 2u);
  EXPECT_EQ(dom0.request(MsgType::kIntroduce, args({"5", "77", "10"})).err(), "EINVAL");
}

TEST_F(XenstoreDomains, IntroduceRules) {
  TestClient guest(server, 4);
  EXPECT_EQ(guest.request(MsgType::kIntroduce, args({"6", "1", "1"})).err(), "EACCES");
  EXPECT_EQ(guest.request(MsgType::kRelease, args({"4"})).err(), "EACCES");
  EXPECT_EQ(guest.request(MsgType::kIsDomainIntroduced, args({"4"})).err(), "EACCES");
  EXPECT_EQ(guest.request(MsgType::kResume, args({"4"})).err(), "EACCES");
  EXPECT_EQ(dom0.request(MsgType::kIntroduce, args({"0", "1", "1"})).err(), "EINVAL");
  EXPECT_EQ(dom0.request(MsgType::kIntroduce, args({"32752", "1", "1"})).err(), "EINVAL") << "DOMID_FIRST_RESERVED";
  EXPECT_EQ(dom0.request(MsgType::kIntroduce, args({"6", "1"})).err(), "EINVAL");
  EXPECT_EQ(dom0.request(MsgType::kIntroduce, args({"6", "x", "1"})).err(), "EINVAL");
  hooks.fail_with = ENOENT;
  EXPECT_EQ(dom0.request(MsgType::kIntroduce, args({"6", "1", "1"})).err(), "ENOENT") << "the hook's errno";
  EXPECT_FALSE(server.is_introduced(6));
  EXPECT_TRUE(guest.request(MsgType::kGetDomainPath, args({"4"})).ok()) << "anyone may ask for a path";
}

TEST_F(XenstoreDomains, ReleaseDropsTheDomainsConnections) {
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"7", "100", "3"})).ok());
  auto ring = server.connect(7, "domain 7 ring");
  size_t before = server.connection_count();
  ASSERT_TRUE(dom0.watch("@releaseDomain", "rel").ok());
  dom0.events();
  ASSERT_TRUE(dom0.request(MsgType::kRelease, args({"7"})).ok());
  EXPECT_TRUE(ring->closed());
  EXPECT_EQ(server.connection_count(), before - 1);
  EXPECT_EQ(hooks.released, (std::vector<DomId>{7}));
  EXPECT_EQ(dom0.events(), (std::vector<Event>{{"@releaseDomain", "rel"}}));
  EXPECT_EQ(introduced("7").value(), std::string("F\0", 2));
  EXPECT_EQ(dom0.request(MsgType::kRelease, args({"7"})).err(), "ENOENT");
  EXPECT_EQ(dom0.request(MsgType::kRelease, args({"0"})).err(), "EINVAL");
}

TEST_F(XenstoreDomains, ShutdownFiresReleaseDomainOnceUntilResume) {
  ASSERT_TRUE(dom0.request(MsgType::kIntroduce, args({"9", "100", "3"})).ok());
  ASSERT_TRUE(dom0.watch("@releaseDomain", "rel").ok());
  dom0.events();
  server.domain_shutdown(9);
  server.domain_shutdown(9);
  EXPECT_EQ(dom0.events().size(), 1u);
  ASSERT_TRUE(dom0.request(MsgType::kResume, args({"9"})).ok());
  server.domain_shutdown(9);
  EXPECT_EQ(dom0.events().size(), 1u);
  EXPECT_EQ(dom0.request(MsgType::kResume, args({"11"})).err(), "ENOENT");
}

TEST_F(XenstoreDomains, LibraryEntryPointsForPvd) {
  ASSERT_TRUE(dom0.watch("@introduceDomain", "in").ok());
  dom0.events();
  server.introduce_domain(12, 5, 6);
  EXPECT_EQ(dom0.events(), (std::vector<Event>{{"@introduceDomain", "in"}}));
  server.release_domain(12);
  EXPECT_FALSE(server.is_introduced(12));
  EXPECT_THROW(server.release_domain(12), pv::xenstore::RequestError);
}
