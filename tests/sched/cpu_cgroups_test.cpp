// CpuCgroups against the real kernel: groups are made under a slice of the
// test's own, CPU-bound children pinned to one CPU are placed in them, and
// the CPU time each gets (from /proc/PID/schedstat, the scheduler's own
// nanoseconds) is compared with the shares asked for: weights 256:768 get
// 1:3 within 10%, a cap of 25% holds within 5 points.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "cpu_cgroups.h"

namespace {

using pv::pvd::CpuCgroups;
using pv::pvd::CpuShare;

// A child that spins on CPU 0 until killed.
class Spinner {
 public:
  Spinner() {
    pid_ = ::fork();
    if (pid_ == 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(0, &one);
      ::sched_setaffinity(0, sizeof one, &one);
      volatile uint64_t n = 0;
      for (;;) n = n + 1;
    }
  }
  ~Spinner() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  // Nanoseconds it has run.
  uint64_t cpu_ns() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/schedstat");
    uint64_t ns = 0;
    f >> ns;
    return ns;
  }

 private:
  pid_t pid_ = -1;
};

class CpuCgroupsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "cgroups need root";
    std::string why;
    cg_ = CpuCgroups::find("pvd-test-" + std::to_string(::getpid()) + ".slice", &why);
    if (!cg_) GTEST_SKIP() << "no cpu controller here: " << why;
  }
  void TearDown() override {
    spinners_.clear();  // killed and reaped: the groups are empty
    if (!cg_) return;
    for (uint32_t id : {1u, 2u}) EXPECT_TRUE(cg_->remove(id)) << cg_->dir(id);
    {
      const std::string slice = cg_->slice_dir();
      cg_.reset();
      struct stat st{};
      EXPECT_NE(::stat(slice.c_str(), &st), 0) << slice << " left behind";
    }
  }
  std::unique_ptr<CpuCgroups> cg_;
  std::vector<std::unique_ptr<Spinner>> spinners_;
};

TEST(CpuShareMapping, XensDefaultIsTheKernelsDefaultAndRatiosAreKept) {
  EXPECT_EQ(pv::pvd::v2_cpu_weight(256), 100u);
  EXPECT_EQ(pv::pvd::v1_cpu_shares(256), 1024u);
  EXPECT_EQ(pv::pvd::v2_cpu_weight(768), 300u);
  EXPECT_EQ(pv::pvd::v1_cpu_shares(768), 3072u);
  EXPECT_EQ(pv::pvd::v2_cpu_weight(1), 1u);         // clamped to the kernel's range
  EXPECT_EQ(pv::pvd::v2_cpu_weight(65535), 10000u);
  EXPECT_EQ(pv::pvd::v1_cpu_shares(65535), 262140u);
  EXPECT_EQ(pv::pvd::v2_cpu_max(0), "max 100000");
  EXPECT_EQ(pv::pvd::v2_cpu_max(25), "25000 100000");
  EXPECT_EQ(pv::pvd::v2_cpu_max(150), "150000 100000");
}

TEST(CpuShareMapping, OutOfRangeSharesAreRefusedAsXlDoes) {
  EXPECT_EQ(pv::pvd::check_cpu_share({256, 0}, 1), "");
  EXPECT_EQ(pv::pvd::check_cpu_share({65535, 200}, 2), "");
  EXPECT_NE(pv::pvd::check_cpu_share({0, 0}, 1).find("weight 0 is out of range (1-65535)"), std::string::npos);
  EXPECT_NE(pv::pvd::check_cpu_share({65536, 0}, 1).find("out of range"), std::string::npos);
  EXPECT_NE(pv::pvd::check_cpu_share({256, 101}, 1).find("at most 100"), std::string::npos);
}

TEST_F(CpuCgroupsTest, WeightsShareOneCpuInTheirRatio) {
  spinners_.push_back(std::make_unique<Spinner>());
  spinners_.push_back(std::make_unique<Spinner>());
  cg_->place(1, spinners_[0]->pid(), CpuShare{256, 0});
  cg_->place(2, spinners_[1]->pid(), CpuShare{768, 0});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // settle
  const uint64_t a0 = spinners_[0]->cpu_ns(), b0 = spinners_[1]->cpu_ns();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const double a = double(spinners_[0]->cpu_ns() - a0), b = double(spinners_[1]->cpu_ns() - b0);
  ASSERT_GT(a, 0);
  std::printf("weights 256:768 (cgroup v%d): %.0f ms : %.0f ms = 1:%.2f\n", cg_->version(), a / 1e6, b / 1e6, b / a);
  EXPECT_NEAR(b / a, 3.0, 0.3) << "weight 256 got " << a / 1e6 << " ms, weight 768 got " << b / 1e6 << " ms";

  // Changed on the fly: equal weights, equal time.
  cg_->apply(2, CpuShare{256, 0});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const uint64_t a1 = spinners_[0]->cpu_ns(), b1 = spinners_[1]->cpu_ns();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double a2 = double(spinners_[0]->cpu_ns() - a1), b2 = double(spinners_[1]->cpu_ns() - b1);
  EXPECT_NEAR(b2 / a2, 1.0, 0.1);
}

TEST_F(CpuCgroupsTest, ACapHoldsAndCanBeLifted) {
  spinners_.push_back(std::make_unique<Spinner>());
  cg_->place(1, spinners_[0]->pid(), CpuShare{256, 25});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto share_over = [&](std::chrono::milliseconds span) {
    const uint64_t c0 = spinners_[0]->cpu_ns();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(span);
    const double wall = double(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    return 100.0 * double(spinners_[0]->cpu_ns() - c0) / wall;
  };
  const double capped = share_over(std::chrono::seconds(2));
  std::printf("cap 25%% (cgroup v%d): %.1f%% of one CPU\n", cg_->version(), capped);
  // The cap is the upper bound; less is possible on a busy CPU.
  EXPECT_LE(capped, 30.0);
  EXPECT_GE(capped, 15.0);
  cg_->apply(1, CpuShare{256, 0});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_GT(share_over(std::chrono::seconds(1)), 40.0) << "uncapped, it should get most of CPU 0";
}

TEST_F(CpuCgroupsTest, TheGroupHoldsEveryThreadOfTheProcess) {
  spinners_.push_back(std::make_unique<Spinner>());
  cg_->place(1, spinners_[0]->pid(), CpuShare{});
  std::ifstream procs(cg_->dir(1) + "/cgroup.procs");
  pid_t p = 0;
  procs >> p;
  EXPECT_EQ(p, spinners_[0]->pid());
  EXPECT_FALSE(cg_->remove(1)) << "a group with a process in it stays";
}

}  // namespace
