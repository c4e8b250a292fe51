// Conformance with Xen's own clients: Debian's xenstore-utils (libxenstore
// 4.17) against xenstored-test on a temporary socket. libxenstore tries
// $XENSTORED_RUNDIR/socket first, then $XENSTORED_PATH (stat()ed: a socket
// is connected to), so RUNDIR points at nothing and PATH at our socket.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "process.h"

using namespace std::chrono_literals;

namespace {

class XenstoreUtils : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/usr/bin/xenstore-read")) GTEST_SKIP() << "xenstore-utils is not installed";
    char tmpl[] = "/tmp/xenstore-conformance-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/socket";
    setenv("XENSTORED_PATH", socket_.c_str(), 1);
    setenv("XENSTORED_RUNDIR", (dir_ + "/no-such-rundir").c_str(), 1);
    daemon_ = std::make_unique<pvtest::Process>(std::vector<std::string>{XENSTORED_TEST_PATH, "--socket", socket_});
    ASSERT_TRUE(daemon_->wait_for_output("listening on", 10s)) << "xenstored-test did not start";
  }

  void TearDown() override {
    daemon_.reset();  // SIGKILLs and reaps it if still running
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs /usr/bin/xenstore-<tool> args...
  pvtest::Result xs(const std::string& tool, std::vector<std::string> args) {
    args.insert(args.begin(), "/usr/bin/xenstore-" + tool);
    return pvtest::run(args, 5s);
  }
  std::string ok(const std::string& tool, std::vector<std::string> args) {
    auto r = xs(tool, args);
    EXPECT_EQ(r.exit_code, 0) << tool << ": " << r.err;
    return r.out;
  }

  std::string dir_, socket_;
  std::unique_ptr<pvtest::Process> daemon_;
};

TEST_F(XenstoreUtils, WriteAndRead) {
  ok("write", {"/conf/a", "hello", "/conf/b", "with space"});
  EXPECT_EQ(ok("read", {"/conf/a"}), "hello\n");
  EXPECT_EQ(ok("read", {"/conf/b"}), "with space\n");
  EXPECT_EQ(ok("read", {"/conf"}), "\n") << "created parent is empty";
  auto missing = xs("read", {"/conf/missing"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("couldn't read path /conf/missing"), std::string::npos) << missing.err;
}

TEST_F(XenstoreUtils, RelativePathsAreDom0s) {
  ok("write", {"name", "Domain-0"});
  EXPECT_EQ(ok("read", {"/local/domain/0/name"}), "Domain-0\n");
}

TEST_F(XenstoreUtils, LsAndList) {
  ok("write", {"/t/x", "1", "/t/y/z", "2"});
  EXPECT_EQ(ok("ls", {"/t"}), "x = \"1\"\ny = \"\"\n z = \"2\"\n");
  EXPECT_EQ(ok("ls", {"-f", "/t"}), "/t/x = \"1\"\n/t/y = \"\"\n/t/y/z = \"2\"\n");
  EXPECT_EQ(ok("list", {"/t"}), "x\ny\n");
  std::string root = ok("ls", {"/"});
  EXPECT_NE(root.find("local = \"\"\n domain = \"\"\n  0 = \"\"\n"), std::string::npos) << root;
  EXPECT_NE(root.find("tool = \"\""), std::string::npos);
  EXPECT_NE(root.find("vm = \"\""), std::string::npos);
}

TEST_F(XenstoreUtils, LsFallsBackToDirectoryPartForBigDirectories) {
  std::vector<std::string> args;
  for (int i = 0; i < 250; i++) {
    args.push_back("/big/entry-with-a-long-name-" + std::to_string(1000 + i));
    args.push_back("v");
  }
  ok("write", args);  // one client, one transaction
  std::string listing = ok("list", {"/big"});
  EXPECT_EQ(std::count(listing.begin(), listing.end(), '\n'), 250);
  EXPECT_NE(listing.find("entry-with-a-long-name-1249\n"), std::string::npos);
}

TEST_F(XenstoreUtils, RmAndExists) {
  ok("write", {"/r/a/b", "1"});
  EXPECT_EQ(xs("exists", {"/r/a/b"}).exit_code, 0);
  ok("rm", {"/r/a"});
  EXPECT_EQ(xs("exists", {"/r/a/b"}).exit_code, 1);
  EXPECT_EQ(xs("exists", {"/r/a"}).exit_code, 1);
  EXPECT_EQ(xs("exists", {"/r"}).exit_code, 0);
  ok("write", {"/tidy/deep/leaf", "x"});
  ok("rm", {"-t", "/tidy/deep/leaf"});
  EXPECT_EQ(xs("exists", {"/tidy"}).exit_code, 1) << "-t removes empty parents";
}

TEST_F(XenstoreUtils, Chmod) {
  ok("write", {"/p/node", "v"});
  ok("chmod", {"/p/node", "n0", "r5", "b7"});
  std::string listing = ok("ls", {"-p", "/p"});
  EXPECT_NE(listing.find("(n0,r5,b7)"), std::string::npos) << listing;
  ok("chmod", {"-r", "/p", "r3"});
  listing = ok("ls", {"-p", "/p"});
  EXPECT_NE(listing.find("node = \"v\""), std::string::npos);
  EXPECT_NE(listing.find("(r3)"), std::string::npos) << listing;
  auto bad = xs("chmod", {"/p/missing", "n0"});
  EXPECT_NE(bad.exit_code, 0);
}

TEST_F(XenstoreUtils, WatchReportsInitialAndSubtreeEvents) {
  pvtest::Process watch({"/usr/bin/xenstore-watch", "-n", "3", "/w"});
  ASSERT_TRUE(watch.wait_for_output("/w\n", 5s)) << "no initial event";
  ok("write", {"/w/a", "1"});
  ok("write", {"/unrelated", "1"});
  ok("rm", {"/w"});
  auto r = watch.wait(5s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "/w\n/w/a\n/w\n");
}

TEST_F(XenstoreUtils, ManyClientsAtOnce) {
  std::vector<std::unique_ptr<pvtest::Process>> writers;
  for (int i = 0; i < 16; i++)
    writers.push_back(std::make_unique<pvtest::Process>(std::vector<std::string>{
        "/usr/bin/xenstore-write", "/many/k" + std::to_string(i), std::to_string(i * i)}));
  for (auto& w : writers) EXPECT_EQ(w->wait(10s).exit_code, 0);
  std::string listing = ok("ls", {"/many"});
  for (int i = 0; i < 16; i++)
    EXPECT_NE(listing.find("k" + std::to_string(i) + " = \"" + std::to_string(i * i) + "\""), std::string::npos)
        << listing;
}

}  // namespace
