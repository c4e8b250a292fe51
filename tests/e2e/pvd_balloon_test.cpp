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

// A number field of pvctl's --json output.
int64_t json_number(const std::string& json, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + key + "\":\\s*([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

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

  // pvctl list shows the current allocation; info the target, maximum,
  // ballooned-out and host-resident memory (the memfd, as measured here).
  const std::string row_low = row("touch");
  EXPECT_TRUE(std::regex_search(row_low, std::regex("^touch +[0-9]+ +64 "))) << row_low;
  const std::string json = pvctl({"info", "--json", "touch"}).out;
  EXPECT_NEAR(json_number(json, "current_kib"), 65536, 64) << json;
  EXPECT_EQ(json_number(json, "target_kib"), 65536) << json;
  EXPECT_EQ(json_number(json, "maximum_kib"), 262144) << json;
  EXPECT_NEAR(json_number(json, "ballooned_kib"), 196608, 64) << json;
  EXPECT_NEAR(json_number(json, "resident_kib"), low.memfd_bytes / 1024, 2048) << json;
  EXPECT_GT(json_number(json, "pv_hv_rss_kib"), 60000) << json;
  // What the guest's driver reports in xenstore.
  const std::string home = "/local/domain/" + std::to_string(id) + "/";
  EXPECT_EQ(xs("read", {home + "control/feature-balloon"}).out, "1\n");
  EXPECT_EQ(xs("read", {home + "data/meminfo_total"}).out, "65536\n");
  const std::string text = pvctl({"info", "touch"}).out;
  EXPECT_NE(text.find("memory target: 64.0 MiB\n"), std::string::npos) << text;
  EXPECT_NE(text.find("memory ballooned out: 192.0 MiB\n"), std::string::npos) << text;
  EXPECT_NE(text.find("memory maximum: 256.0 MiB\n"), std::string::npos) << text;

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

namespace {

// memory = 64, maxmem = 128: the top 64 MiB start ballooned out. The guest
// gives those frames back once at start (freeing nothing) and grows into them
// when the target rises: the host's memory follows, and what it had touched
// before is intact.
TEST_F(PvdBalloonGuest, ADomainBuiltBelowMaxmemGrowsIntoItsBootBalloonedFrames) {
  const uint32_t id = create("grow", "memtouch", "memory = 64\nmaxmem = 128\n");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(console_has(id, "MEMTOUCH done", 120s)) << console(id);
  const std::string start = console(id);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(start, m, std::regex("BALLOON started current_kib=([0-9]+) ballooned_kib=([0-9]+) "
                                                     "\\(of them ([0-9]+) KiB from boot\\)")))
      << start;
  EXPECT_EQ(std::stoull(m[1]), 65536u) << start;
  EXPECT_NEAR(static_cast<double>(std::stoull(m[3])), 65536.0, 64.0) << start;
  EXPECT_NE(start.find("BALLOON reached target_kib=65536 current_kib=65536"), std::string::npos) << start;
  const pid_t pid = pid_of("grow");
  ASSERT_GT(pid, 0);
  const HostMemory small = host_memory(pid);
  EXPECT_LE(small.memfd_bytes, 66 * kMiB) << "more than memory is held before growing";

  ASSERT_EQ(pvctl({"mem-set", "grow", "128"}).exit_code, 0);
  ASSERT_TRUE(console_has(id, "BALLOON reached target_kib=131072", 120s)) << console(id);
  ASSERT_TRUE(eventually([&] { return count_of(console(id), "MEMTOUCH verify ok") >= 1; }, 60s)) << console(id);
  const HostMemory big = host_memory(pid);
  EXPECT_GE(big.memfd_bytes - small.memfd_bytes, 60 * kMiB) << small.memfd_bytes << " -> " << big.memfd_bytes;
  EXPECT_EQ(console(id).find("FAILED"), std::string::npos) << console(id);
  // At the ceiling: a target above maxmem is refused by pvd, and the guest stays where it is.
  EXPECT_NE(pvctl({"mem-set", "grow", "129"}).exit_code, 0);
}

}  // namespace
