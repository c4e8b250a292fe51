// vcpu_threads.h on real threads: this test process gets threads named as
// pv-hv names its vCPU threads ("vcpuN"), and pvd's view of them (state,
// CPU, affinity) and pinning are checked against the kernel's.
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "vcpu_threads.h"

namespace {

using namespace pv::pvd;

// Threads named vcpu0..vcpuN-1; vcpu0 spins, the others sleep on a
// condition variable (blocked).
class FakeVcpus {
 public:
  explicit FakeVcpus(unsigned n) {
    for (unsigned i = 0; i < n; i++)
      threads_.emplace_back([this, i] {
        char name[16];
        std::snprintf(name, sizeof name, "vcpu%u", i);
        pthread_setname_np(pthread_self(), name);
        started_++;
        if (i == 0) {
          while (!stop_) {
          }
          return;
        }
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stop_.load(); });
      });
    while (started_ < n) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ~FakeVcpus() {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<unsigned> started_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
};

TEST(VcpuThreads, FindsTheVcpuThreadsWithTheirStateAndAffinity) {
  FakeVcpus vcpus(3);
  const auto v = vcpu_threads(::getpid());
  ASSERT_EQ(v.size(), 3u);
  for (unsigned i = 0; i < 3; i++) {
    EXPECT_EQ(v[i].vcpu, i);
    EXPECT_GT(v[i].tid, 0);
    EXPECT_GE(v[i].cpu, 0);
    EXPECT_FALSE(v[i].affinity.empty());
  }
  EXPECT_EQ(v[0].state, 'r');  // spinning
  EXPECT_EQ(v[1].state, 'b');  // waiting
  EXPECT_GT(v[0].cpu_seconds + 0.5, 0.0);
  EXPECT_TRUE(vcpu_threads(999999999).empty());
}

TEST(VcpuThreads, PinningIsWhatTheKernelThenReports) {
  FakeVcpus vcpus(2);
  auto v = vcpu_threads(::getpid());
  ASSERT_EQ(v.size(), 2u);
  ASSERT_EQ(pin_thread(v[1].tid, {0}), 0);
  v = vcpu_threads(::getpid());
  EXPECT_EQ(v[1].affinity, std::vector<int>{0});
  cpu_set_t set;
  ASSERT_EQ(::sched_getaffinity(v[1].tid, sizeof set, &set), 0);
  EXPECT_TRUE(CPU_ISSET(0, &set));
  EXPECT_EQ(CPU_COUNT(&set), 1);
  const int n = int(::sysconf(_SC_NPROCESSORS_CONF));
  EXPECT_EQ(format_cpu_list(v[0].affinity, n), "all");
  EXPECT_EQ(format_cpu_list(v[1].affinity, n), n == 1 ? "all" : "0");
}

TEST(CpuList, XlsSyntax) {
  std::string why;
  EXPECT_EQ(*parse_cpu_list("all", 4, &why), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(*parse_cpu_list("2", 4, &why), (std::vector<int>{2}));
  EXPECT_EQ(*parse_cpu_list("0-1,3", 4, &why), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(*parse_cpu_list("0-7,^2-3,^5", 8, &why), (std::vector<int>{0, 1, 4, 6, 7}));
  EXPECT_EQ(format_cpu_list({0, 1, 4, 6, 7}, 8), "0-1,4,6-7");
  EXPECT_EQ(format_cpu_list({0, 1, 2, 3}, 4), "all");
  for (const char* bad : {"", "x", "1-", "-1", "3-1", "0,,1", "1.5", "0-99"}) {
    EXPECT_FALSE(parse_cpu_list(bad, 4, &why)) << bad;
    EXPECT_FALSE(why.empty());
  }
  EXPECT_FALSE(parse_cpu_list("4", 4, &why));
  EXPECT_EQ(why, "CPU 4 does not exist (this host has 4)");
  EXPECT_FALSE(parse_cpu_list("0-3,^0-3", 4, &why));
  EXPECT_NE(why.find("leaves no CPU"), std::string::npos);
}

}  // namespace
