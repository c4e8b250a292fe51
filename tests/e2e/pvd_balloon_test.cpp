// The guest's balloon driver against the host (docs/running-a-domain.md,
// "Memory"): a domain that has touched all its memory is ballooned down and
// up with pvctl mem-set, and the host's memory is measured from /proc (pv-hv's
// RSS and the guest-RAM memfd's allocated blocks), not from our counters.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "pvd_fixture.h"
#include "test_util.h"

namespace {

using namespace pvtest;
constexpr int64_t kMiB = 1024 * 1024;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

class PvdBalloonGuest : public PvdFixture {
 protected:
  uint32_t create(const std::string& name, const std::string& extra, const std::string& body) {
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "name = \"" << name << "\"\nkernel = \"" << kGuest << "\"\nvcpus = 1\nextra = \""
                        << extra << "\"\n"
                        << body;
    Result r = pvctl({"create", path});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    Result id = pvctl({"domid", name});
    return id.exit_code == 0 ? static_cast<uint32_t>(std::stoul(id.out)) : 0;
  }
};

// 256 MiB, all of it written by the guest, ballooned to 64 MiB and back:
// the host gives back and takes again ~192 MiB, and what the guest kept
// still holds its pattern.
TEST_F(PvdBalloonGuest, MemtouchDomainBalloonsDownAndUpAndTheHostMemoryFollows) {
  const uint32_t id = create("touch", "memtouch", "memory = 256\n");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(console_has(id, "MEMTOUCH done", 120s)) << console(id);
  const pid_t pid = pid_of("touch");
  ASSERT_GT(pid, 0);
  const HostMemory full = host_memory(pid);
  ASSERT_GT(full.memfd_bytes, 0) << "no guest-RAM memfd found in /proc/" << pid << "/fd";
  EXPECT_GE(full.memfd_bytes, 250 * kMiB) << "the guest did not touch its memory";
  EXPECT_GE(full.rss, 250 * kMiB);

  ASSERT_EQ(pvctl({"mem-set", "touch", "64"}).exit_code, 0);
  ASSERT_TRUE(console_has(id, "BALLOON reached target_kib=65536", 120s)) << console(id);
  ASSERT_TRUE(eventually([&] { return count_of(console(id), "MEMTOUCH verify ok") >= 1; }, 60s)) << console(id);
  const HostMemory low = host_memory(pid);
  EXPECT_GE(full.memfd_bytes - low.memfd_bytes, 185 * kMiB) << full.memfd_bytes << " -> " << low.memfd_bytes;
  EXPECT_LE(full.memfd_bytes - low.memfd_bytes, 193 * kMiB) << full.memfd_bytes << " -> " << low.memfd_bytes;
  EXPECT_GE(full.rss - low.rss, 185 * kMiB) << full.rss << " -> " << low.rss;

  ASSERT_EQ(pvctl({"mem-set", "touch", "256"}).exit_code, 0);
  ASSERT_TRUE(console_has(id, "BALLOON reached target_kib=262144", 120s)) << console(id);
  ASSERT_TRUE(eventually([&] { return count_of(console(id), "MEMTOUCH verify ok") >= 2; }, 60s)) << console(id);
  const HostMemory again = host_memory(pid);
  EXPECT_GE(again.memfd_bytes - low.memfd_bytes, 185 * kMiB) << low.memfd_bytes << " -> " << again.memfd_bytes;
  EXPECT_GE(again.rss - low.rss, 185 * kMiB) << low.rss << " -> " << again.rss;

  std::printf("host memory (MiB) full: rss %.1f memfd %.1f; at 64 MiB: rss %.1f memfd %.1f; back at 256 MiB: rss %.1f memfd %.1f\n",
              double(full.rss) / kMiB, double(full.memfd_bytes) / kMiB, double(low.rss) / kMiB,
              double(low.memfd_bytes) / kMiB, double(again.rss) / kMiB, double(again.memfd_bytes) / kMiB);
  const std::string log = console(id);
  EXPECT_EQ(log.find("MEMTOUCH verify FAILED"), std::string::npos) << log;
  EXPECT_EQ(log.find("not zeroed"), std::string::npos) << log;
  // The second check saw the pages kept at 64 MiB and the ~192 MiB that came back.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("MEMTOUCH verify ok kept=([0-9]+) refilled=([0-9]+)[^\n]*\n[\\s\\S]*"
                                                   "MEMTOUCH verify ok kept=([0-9]+) refilled=([0-9]+)")))
      << log;
  EXPECT_GT(std::stoull(m[1]), 14000u);  // of ~16384 pages at 64 MiB
  EXPECT_GT(std::stoull(m[4]), 48000u);  // ~49152 pages back
}

}  // namespace
