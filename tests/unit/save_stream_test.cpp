// The save stream (docs/save-format.md): the framing (pv/save_stream.h) and
// the typed records (proto/save/domain_stream.h) read back what was
// written, and every damaged, truncated, oversized, out-of-version or
// inconsistent stream is refused with a message, never misread.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "pv/crc32c.h"
#include "pv/save_stream.h"
#include "pv/unique_fd.h"
#include "save/domain_stream.h"

namespace pv::save {
namespace {
namespace S = pv::state;

UniqueFd memfd_with(const std::string& bytes) {
  UniqueFd fd(memfd_create("save-test", MFD_CLOEXEC));
  EXPECT_TRUE(fd);
  EXPECT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  EXPECT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
  return fd;
}

std::string contents(int fd) {
  std::string out;
  EXPECT_EQ(::lseek(fd, 0, SEEK_SET), 0);
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Writes a stream with `write(StreamWriter&)` and returns its bytes.
template <typename F>
std::string raw_stream(uint32_t version, F write) {
  UniqueFd fd(memfd_create("save-test", MFD_CLOEXEC));
  StreamWriter w(fd.get(), version);
  write(w);
  return contents(fd.get());
}

S::DomainConfig test_config(uint32_t vcpus = 2) {
  S::DomainConfig c;
  c.set_name("guest1");
  c.set_uuid("6b1f0c3e-0000-4000-8000-000000000001");
  c.set_domid(3);
  c.set_memory_bytes(4 << 20);
  c.set_maxmem_bytes(8 << 20);
  c.set_vcpus(vcpus);
  c.set_cmdline("tick");
  c.set_config_text("name = \"guest1\"\nmemory = 4\n");
  c.set_max_pages(1024);
  c.set_transport("port-io");
  c.set_hypercall_page_gfn(7);
  return c;
}

S::VcpuState test_vcpu(uint32_t id) {
  S::VcpuState v;
  v.set_id(id);
  v.set_up(id == 0);
  for (int i = 0; i < 18; i++) v.add_gprs(0x1000 * id + i);
  for (int i = 0; i < 8; i++) v.add_segments()->set_selector(8 * i);
  v.set_cr3(0x5000);
  v.set_xsave(std::string(4096, '\x11'));
  auto* m = v.add_msrs();
  m->set_index(0xc0000080);
  m->set_value(0xd01);
  v.set_vcpu_info_gfn(kNoFrame);
  return v;
}

std::string frame_bytes(uint64_t first_gfn, uint64_t n) {
  std::string s(n * kFrameBytes, '\0');
  for (uint64_t i = 0; i < n; i++) std::memset(&s[i * kFrameBytes], static_cast<int>((first_gfn + i) & 0xff), kFrameBytes);
  return s;
}

// A whole, valid stream; `mem` frames at gfn 16.. and one frame at 2000.
std::string valid_stream(uint64_t mem = 1, uint32_t vcpus = 2) {
  UniqueFd fd(memfd_create("save-test", MFD_CLOEXEC));
  DomainStreamWriter w(fd.get(), test_config(vcpus));
  for (uint32_t v = 0; v < vcpus; v++) w.vcpu(test_vcpu(v));
  w.memory(16, frame_bytes(16, mem).data(), mem);
  w.memory(2000, frame_bytes(2000, 1).data(), 1);
  S::HvmParams p;
  auto* prm = p.add_params();
  prm->set_index(2);
  prm->set_value(5);
  p.set_callback_vector(0xf3);
  w.hvm_params(p);
  S::XenPages x;
  x.set_shared_info_gfn(100);
  x.add_grant_frame_gfns(101);
  x.add_grant_frame_gfns(kNoFrame);
  w.xen_pages(x);
  S::TimeState t;
  t.set_system_time_ns(123456789);
  t.set_tsc_khz(2000000);
  auto* tm = t.add_timers();
  tm->set_vcpu(1);
  tm->set_deadline_ns(223456789);
  w.time(t);
  S::ConsoleState c;
  c.set_out_prod(77);
  c.set_out_cons(70);
  w.console(c);
  w.end();
  return contents(fd.get());
}

struct Read {
  DomainState st;
  std::map<uint64_t, std::string> runs;
};

Read read_bytes(const std::string& bytes) {
  auto fd = memfd_with(bytes);
  Read r;
  r.st = read_domain_stream(fd.get(), [&](uint64_t gfn, std::string_view d) { r.runs[gfn] = std::string(d); });
  return r;
}

// The refusal's message, "" if the stream was read.
std::string refusal(const std::string& bytes) {
  try {
    read_bytes(bytes);
  } catch (const StreamError& e) {
    return e.what();
  }
  return "";
}

void put_le32(std::string& s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; i++) s[at + i] = static_cast<char>(v >> (8 * i));
}

TEST(Crc32c, KnownVectorAndPieces) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the check value of CRC-32C
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::string s(1000, 'x');
  EXPECT_EQ(crc32c_update(crc32c(s.data(), 333), s.data() + 333, 667), crc32c(s.data(), s.size()));
  const std::string t = std::string(999, 'x') + "y";
  EXPECT_NE(crc32c(s.data(), s.size()), crc32c(t.data(), t.size()));
}

TEST(SaveStream, RoundTripsEveryRecord) {
  const auto r = read_bytes(valid_stream(3));
  EXPECT_EQ(r.st.version, kFormatVersion);
  EXPECT_EQ(r.st.config.name(), "guest1");
  EXPECT_EQ(r.st.config.config_text(), "name = \"guest1\"\nmemory = 4\n");
  EXPECT_EQ(r.st.config.maxmem_bytes(), 8u << 20);
  ASSERT_EQ(r.st.vcpus.size(), 2u);
  EXPECT_EQ(r.st.vcpus[1].gprs(17), 0x1000u + 17);
  EXPECT_EQ(r.st.vcpus[1].xsave(), std::string(4096, '\x11'));
  EXPECT_EQ(r.st.vcpus[0].msrs(0).value(), 0xd01u);
  EXPECT_EQ(r.st.hvm_params.params(0).value(), 5u);
  EXPECT_EQ(r.st.hvm_params.callback_vector(), 0xf3u);
  EXPECT_EQ(r.st.xen_pages.shared_info_gfn(), 100u);
  EXPECT_EQ(r.st.xen_pages.grant_frame_gfns(1), kNoFrame);
  EXPECT_EQ(r.st.time.system_time_ns(), 123456789u);
  EXPECT_EQ(r.st.time.timers(0).deadline_ns(), 223456789u);
  EXPECT_EQ(r.st.console.out_prod(), 77u);
  EXPECT_EQ(r.st.memory_frames, 4u);
  ASSERT_EQ(r.runs.size(), 2u);
  EXPECT_EQ(r.runs.at(16), frame_bytes(16, 3));
  EXPECT_EQ(r.runs.at(2000), frame_bytes(2000, 1));
}

TEST(SaveStream, LongRunsAreCutIntoRecordsAndReadBack) {
  const uint64_t n = kMaxFramesPerRun + 5;
  const auto r = read_bytes(valid_stream(n));
  ASSERT_EQ(r.runs.size(), 3u);
  EXPECT_EQ(r.runs.at(16).size(), kMaxFramesPerRun * kFrameBytes);
  EXPECT_EQ(r.runs.at(16 + kMaxFramesPerRun), frame_bytes(16 + kMaxFramesPerRun, 5));
  EXPECT_EQ(r.st.memory_frames, n + 1);
}

TEST(SaveStream, ConfigAloneIsReadWithoutTheRest) {
  auto fd = memfd_with(valid_stream());
  const auto c = read_domain_config(fd.get());
  EXPECT_EQ(c.name(), "guest1");
  EXPECT_EQ(c.vcpus(), 2u);
}

TEST(SaveStreamRefuses, EmptyAndBadMagic) {
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
  std::string s = valid_stream();
  s[0] = 'X';
  EXPECT_NE(refusal(s).find("bad magic"), std::string::npos);
  EXPECT_NE(refusal("PVHV").find("truncated"), std::string::npos);
}

TEST(SaveStreamRefuses, NewerAndOlderVersions) {
  const auto newer = raw_stream(kFormatVersion + 1, [](StreamWriter& w) { w.end(); });
  EXPECT_NE(refusal(newer).find("version " + std::to_string(kFormatVersion + 1) + " is newer"), std::string::npos)
      << refusal(newer);
  const auto older = raw_stream(kOldestFormatVersion - 1, [](StreamWriter& w) { w.end(); });
  EXPECT_NE(refusal(older).find("is older"), std::string::npos) << refusal(older);
}

TEST(SaveStreamRefuses, ADamagedHeader) {
  std::string s = valid_stream();
  s[8] ^= 0x40;  // the version, without fixing its checksum
  EXPECT_NE(refusal(s).find("header damaged"), std::string::npos) << refusal(s);
}

TEST(SaveStreamRefuses, AFlippedBitAnywhereAfterTheHeader) {
  const std::string good = valid_stream();
  // Every byte of the small records, and a spread of the memory payload.
  for (size_t at = kHeaderBytes; at < good.size(); at += (at < 8192 || good.size() - at < 8192) ? 1 : 97) {
    std::string s = good;
    s[at] ^= 0x01;
    const auto why = refusal(s);
    EXPECT_FALSE(why.empty()) << "a flipped bit at byte " << at << " went unnoticed";
  }
}

TEST(SaveStreamRefuses, EveryTruncation) {
  const std::string good = valid_stream();
  for (size_t len = 0; len < good.size(); len++) {
    const auto why = refusal(good.substr(0, len));
    EXPECT_FALSE(why.empty()) << "a stream cut at byte " << len << " was read";
    if (len >= kHeaderBytes) {
      EXPECT_NE(why.find("truncated"), std::string::npos) << why;
    }
  }
}

TEST(SaveStreamRefuses, AnOversizedRecordBeforeAllocatingIt) {
  std::string s = raw_stream(kFormatVersion, [](StreamWriter& w) { w.record(S::RECORD_DOMAIN_CONFIG, "x"); });
  put_le32(s, kHeaderBytes + 4, kMaxRecordBytes + 1);
  EXPECT_NE(refusal(s).find("over the limit"), std::string::npos) << refusal(s);
  put_le32(s, kHeaderBytes + 4, 0xffffffffu);
  EXPECT_NE(refusal(s).find("over the limit"), std::string::npos) << refusal(s);
}

TEST(SaveStreamRefuses, DataAfterTheEndRecordAndAnEndWithAPayload) {
  EXPECT_NE(refusal(valid_stream() + "x").find("after its end record"), std::string::npos);
  const auto s = raw_stream(kFormatVersion, [](StreamWriter& w) { w.record(kEndRecord, "x"); });
  EXPECT_NE(refusal(s).find("end record with a payload"), std::string::npos) << refusal(s);
}

TEST(SaveStreamRefuses, AStreamWithoutItsEndRecord) {
  const std::string good = valid_stream();
  const auto s = good.substr(0, good.size() - kRecordOverhead);  // drop the End record whole
  EXPECT_NE(refusal(s).find("no end record"), std::string::npos) << refusal(s);
}

TEST(SaveStreamRefuses, UnknownRecordTypes) {
  const auto s = raw_stream(kFormatVersion, [](StreamWriter& w) {
    w.record(S::RECORD_DOMAIN_CONFIG, test_config().SerializeAsString());
    w.record(99, "future");
    w.end();
  });
  EXPECT_NE(refusal(s).find("unknown record type 99"), std::string::npos) << refusal(s);
}

TEST(SaveStreamRefuses, RecordsThatDoNotParse) {
  const auto s = raw_stream(kFormatVersion, [](StreamWriter& w) {
    w.record(S::RECORD_DOMAIN_CONFIG, std::string("\xff\xff\xff", 3));
    w.end();
  });
  EXPECT_NE(refusal(s).find("does not parse"), std::string::npos) << refusal(s);
}

// Builds a stream from valid records with one changed by `mutate`.
template <typename F>
std::string with(F mutate) {
  return raw_stream(kFormatVersion, [&](StreamWriter& w) {
    std::vector<std::pair<uint32_t, std::string>> recs;
    recs.emplace_back(S::RECORD_DOMAIN_CONFIG, test_config(1).SerializeAsString());
    recs.emplace_back(S::RECORD_VCPU, test_vcpu(0).SerializeAsString());
    S::MemoryRun run;
    run.set_first_gfn(0);
    run.set_data(frame_bytes(0, 1));
    recs.emplace_back(S::RECORD_MEMORY, run.SerializeAsString());
    recs.emplace_back(S::RECORD_HVM_PARAMS, S::HvmParams().SerializeAsString());
    recs.emplace_back(S::RECORD_XEN_PAGES, S::XenPages().SerializeAsString());
    S::TimeState t;
    t.set_tsc_khz(1000000);
    recs.emplace_back(S::RECORD_TIME, t.SerializeAsString());
    recs.emplace_back(S::RECORD_CONSOLE, S::ConsoleState().SerializeAsString());
    mutate(recs);
    for (auto& [type, payload] : recs) w.record(type, payload);
    w.end();
  });
}

TEST(SaveStreamRefuses, InconsistentRecords) {
  using Recs = std::vector<std::pair<uint32_t, std::string>>;
  EXPECT_EQ(refusal(with([](Recs&) {})), "");
  const auto memory_at = [](uint64_t gfn, uint64_t bytes) {
    S::MemoryRun run;
    run.set_first_gfn(gfn);
    run.set_data(std::string(bytes, 'm'));
    return run.SerializeAsString();
  };
  const std::pair<const char*, std::function<void(Recs&)>> cases[] = {
      {"must come first", [](Recs& r) { std::swap(r[0], r[1]); }},
      {"appears twice", [](Recs& r) { r.push_back(r[3]); }},
      {"more vcpu records", [](Recs& r) { r.insert(r.begin() + 2, r[1]); }},
      {"without all its vcpus", [](Recs& r) { r.erase(r.begin() + 1); }},
      {"without its time record", [](Recs& r) { r.erase(r.begin() + 5); }},
      {"outside guest RAM", [&](Recs& r) { r[2].second = memory_at(2048, kFrameBytes); }},
      {"outside guest RAM", [&](Recs& r) { r[2].second = memory_at(2047, 2 * kFrameBytes); }},
      {"whole frames", [&](Recs& r) { r[2].second = memory_at(0, 100); }},
      {"overlap or are out of order", [&](Recs& r) { r.insert(r.begin() + 3, {S::RECORD_MEMORY, memory_at(0, kFrameBytes)}); }},
      {"hypercall page is outside", [](Recs& r) {
         auto c = test_config(1);
         c.set_hypercall_page_gfn(2048);
         r[0].second = c.SerializeAsString();
       }},
      {"neither port-io nor kvm-xen", [](Recs& r) {
         auto c = test_config(1);
         c.set_transport("smoke-signals");
         r[0].second = c.SerializeAsString();
       }},
      {"vcpus is 0", [](Recs& r) {
         auto c = test_config(1);
         c.set_vcpus(0);
         r[0].second = c.SerializeAsString();
       }},
      {"not between", [](Recs& r) {
         auto c = test_config(1);
         c.set_memory_bytes(c.maxmem_bytes() + 1);
         r[0].second = c.SerializeAsString();
       }},
      {"18", [](Recs& r) {
         auto v = test_vcpu(0);
         v.mutable_gprs()->RemoveLast();
         r[1].second = v.SerializeAsString();
       }},
      {"vcpu 1 where vcpu 0", [](Recs& r) { r[1].second = test_vcpu(1).SerializeAsString(); }},
      {"vcpu_info is outside", [](Recs& r) {
         auto v = test_vcpu(0);
         v.set_vcpu_info_gfn(4096);
         r[1].second = v.SerializeAsString();
       }},
      {"vcpu_info is outside", [](Recs& r) {
         auto v = test_vcpu(0);
         v.set_vcpu_info_gfn(1);
         v.set_vcpu_info_offset(0xfffffff0u);  // + 64 would wrap in 32 bits
         r[1].second = v.SerializeAsString();
       }},
      {"grant frame is outside", [](Recs& r) {
         S::XenPages x;
         x.add_grant_frame_gfns(1ull << 40);
         r[4].second = x.SerializeAsString();
       }},
      {"timer names vcpu 1", [](Recs& r) {
         S::TimeState t;
         t.set_tsc_khz(1);
         t.add_timers()->set_vcpu(1);
         r[5].second = t.SerializeAsString();
       }},
      {"TSC frequency is 0", [](Recs& r) { r[5].second = S::TimeState().SerializeAsString(); }},
  };
  for (const auto& [expected, mutate] : cases) {
    const auto why = refusal(with(mutate));
    EXPECT_NE(why.find(expected), std::string::npos) << "expected \"" << expected << "\", got \"" << why << "\"";
  }
}

TEST(SaveStreamRefuses, MemoryOutsideRamBeforeTheSinkSeesIt) {
  using Recs = std::vector<std::pair<uint32_t, std::string>>;
  const auto s = with([](Recs& r) {
    S::MemoryRun run;
    run.set_first_gfn(~uint64_t{0});
    run.set_data(std::string(kFrameBytes, 'm'));
    r[2].second = run.SerializeAsString();
  });
  auto fd = memfd_with(s);
  bool sink_called = false;
  EXPECT_THROW(read_domain_stream(fd.get(), [&](uint64_t, std::string_view) { sink_called = true; }), StreamError);
  EXPECT_FALSE(sink_called);
}

}  // namespace
}  // namespace pv::save
