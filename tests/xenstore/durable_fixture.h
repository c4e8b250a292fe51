// A durable XenstoreServer on a temporary state directory that a test can
// "kill" (drop without a final snapshot, as kill -9 would) and restart.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "test_client.h"

namespace xstest {

class DurableServer : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xs-durable.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/xenstore";
    start();
  }
  void TearDown() override {
    server_.reset();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  void start(pv::xenstore::Quotas quotas = {}) {
    server_ = std::make_unique<pv::xenstore::XenstoreServer>(quotas);
    server_->make_durable(dir_);
  }
  // As kill -9: nothing more is written; clients still around are closed.
  void crash() { server_.reset(); }
  void restart(pv::xenstore::Quotas quotas = {}) {
    crash();
    start(quotas);
  }
  pv::xenstore::XenstoreServer& server() { return *server_; }
  std::unique_ptr<TestClient> client(DomId domid) { return std::make_unique<TestClient>(*server_, domid); }

  std::string journal() const { return dir_ + "/journal"; }
  std::string snapshot() const { return dir_ + "/snapshot"; }
  std::string contents(const std::string& path) const {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  void overwrite(const std::string& path, const std::string& bytes) const {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  }

  std::string root_, dir_;
  std::unique_ptr<pv::xenstore::XenstoreServer> server_;
};

}  // namespace xstest
