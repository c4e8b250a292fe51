#include "save/domain_stream.h"

#include <unistd.h>

#include <optional>
#include <string>

namespace pv::save {
namespace S = pv::state;

namespace {

constexpr size_t kGprs = 18;      // kvm_regs
constexpr size_t kSegments = 8;   // cs ds es fs gs ss tr ldt
constexpr size_t kMaxMsrs = 64;
constexpr size_t kMaxBlob = 16384;  // xsave, fpu, lapic, vcpu_events
constexpr uint32_t kMaxHvmParamIndex = 64;
constexpr size_t kMaxGrantFrames = 64;
constexpr size_t kMaxTimers = 2 * kMaxVcpus + 16;

const char* record_name(uint32_t type) {
  switch (type) {
    case S::RECORD_DOMAIN_CONFIG: return "domain config";
    case S::RECORD_VCPU: return "vcpu";
    case S::RECORD_MEMORY: return "memory";
    case S::RECORD_HVM_PARAMS: return "hvm params";
    case S::RECORD_XEN_PAGES: return "xen pages";
    case S::RECORD_TIME: return "time";
    case S::RECORD_CONSOLE: return "console";
    case S::RECORD_MEMORY_PASS: return "memory pass";
    case S::RECORD_POPULATED: return "populated frames";
  }
  return "unknown";
}

// Where a record is, for messages: "record 4 (vcpu) at byte 1234".
struct Where {
  uint64_t index, offset;
  uint32_t type;
  std::string str() const {
    return "record " + std::to_string(index) + " (" + record_name(type) + ") at byte " + std::to_string(offset);
  }
};

[[noreturn]] void refuse(const Where& w, const std::string& why) {
  throw StreamError("save stream " + w.str() + ": " + why);
}

template <typename M>
M parse(const StreamRecord& rec, const Where& w) {
  M m;
  if (!m.ParseFromString(rec.payload)) refuse(w, "does not parse");
  return m;
}

void check_config(const S::DomainConfig& c, const Where& w) {
  if (c.name().empty() || c.name().size() > 256) refuse(w, "the domain name is empty or too long");
  if (c.vcpus() == 0 || c.vcpus() > kMaxVcpus)
    refuse(w, "vcpus is " + std::to_string(c.vcpus()) + ", not 1.." + std::to_string(kMaxVcpus));
  if (c.maxmem_bytes() == 0 || c.maxmem_bytes() % kFrameBytes || c.maxmem_bytes() > kMaxGuestBytes)
    refuse(w, "maxmem " + std::to_string(c.maxmem_bytes()) + " is not a whole number of frames up to 1 TiB");
  if (c.memory_bytes() == 0 || c.memory_bytes() > c.maxmem_bytes())
    refuse(w, "memory " + std::to_string(c.memory_bytes()) + " is not between one byte and maxmem");
  if (c.max_pages() > c.maxmem_bytes() / kFrameBytes) refuse(w, "the memory ceiling is beyond guest RAM");
  if (c.hypercall_page_gfn() != kNoFrame && c.hypercall_page_gfn() >= c.maxmem_bytes() / kFrameBytes)
    refuse(w, "the hypercall page is outside guest RAM");
  if (c.transport() != "port-io" && c.transport() != "kvm-xen")
    refuse(w, "hypercall transport '" + c.transport().substr(0, 32) + "' is neither port-io nor kvm-xen");
}

void check_vcpu(const S::VcpuState& v, uint32_t expected_id, uint64_t ram_frames, const Where& w) {
  if (v.id() != expected_id)
    refuse(w, "vcpu " + std::to_string(v.id()) + " where vcpu " + std::to_string(expected_id) + " was due");
  if (v.gprs_size() != kGprs) refuse(w, std::to_string(v.gprs_size()) + " general registers, not 18");
  if (v.segments_size() != kSegments) refuse(w, std::to_string(v.segments_size()) + " segments, not 8");
  if (v.msrs_size() > static_cast<int>(kMaxMsrs)) refuse(w, "too many MSRs");
  for (const auto* blob : {&v.xsave(), &v.fpu(), &v.lapic(), &v.vcpu_events()})
    if (blob->size() > kMaxBlob) refuse(w, "a register block is over " + std::to_string(kMaxBlob) + " bytes");
  if (v.interrupt_bitmap().size() > 32) refuse(w, "the interrupt bitmap is over 32 bytes");
  if (v.upcall_vector() > 255) refuse(w, "upcall vector over 255");
  if (v.vcpu_info_gfn() != kNoFrame &&
      (v.vcpu_info_gfn() >= ram_frames || uint64_t{v.vcpu_info_offset()} + 64 > kFrameBytes))
    refuse(w, "vcpu_info is outside guest RAM");
}

}  // namespace

DomainStreamWriter::DomainStreamWriter(int fd, const S::DomainConfig& config) : out_(fd, kFormatVersion) {
  put(S::RECORD_DOMAIN_CONFIG, config);
}

void DomainStreamWriter::put(S::RecordType type, const google::protobuf::MessageLite& m) {
  out_.record(type, m.SerializeAsString());
}

void DomainStreamWriter::vcpu(const S::VcpuState& v) { put(S::RECORD_VCPU, v); }
void DomainStreamWriter::hvm_params(const S::HvmParams& p) { put(S::RECORD_HVM_PARAMS, p); }
void DomainStreamWriter::xen_pages(const S::XenPages& p) { put(S::RECORD_XEN_PAGES, p); }
void DomainStreamWriter::time(const S::TimeState& t) { put(S::RECORD_TIME, t); }
void DomainStreamWriter::console(const S::ConsoleState& c) { put(S::RECORD_CONSOLE, c); }
void DomainStreamWriter::end() { out_.end(); }

void DomainStreamWriter::pass(uint32_t n, uint64_t dirty_frames) {
  S::MemoryPass p;
  p.set_pass(n);
  p.set_dirty_frames(dirty_frames);
  put(S::RECORD_MEMORY_PASS, p);
}

void DomainStreamWriter::populated(const std::vector<std::pair<uint64_t, uint64_t>>& runs) {
  S::PopulatedFrames p;
  for (const auto& [first, count] : runs) {
    p.add_first_gfn(first);
    p.add_count(count);
  }
  put(S::RECORD_POPULATED, p);
}

void DomainStreamWriter::memory(uint64_t first_gfn, const void* data, uint64_t nframes) {
  const auto* p = static_cast<const char*>(data);
  while (nframes) {
    const uint64_t n = std::min<uint64_t>(nframes, kMaxFramesPerRun);
    S::MemoryRun run;
    run.set_first_gfn(first_gfn);
    run.set_data(p, n * kFrameBytes);
    put(S::RECORD_MEMORY, run);
    first_gfn += n;
    p += n * kFrameBytes;
    nframes -= n;
  }
}

DomainStreamReader::DomainStreamReader(int fd) : in_(fd, kOldestFormatVersion, kFormatVersion) {
  const uint64_t offset = in_.offset();
  auto rec = in_.next();
  if (!rec) throw StreamError("save stream holds no records");
  const Where w{1, offset, rec->type};
  if (rec->type != S::RECORD_DOMAIN_CONFIG) refuse(w, "the domain config record must come first");
  config_ = parse<S::DomainConfig>(*rec, w);
  check_config(config_, w);
}

DomainState read_domain_stream(int fd, const MemorySink& memory) { return DomainStreamReader(fd).read_rest(memory); }

DomainState DomainStreamReader::read_rest(const MemorySink& memory) {
  if (read_) throw std::logic_error("DomainStreamReader::read_rest twice");
  read_ = true;
  StreamReader& in = in_;
  DomainState st;
  st.version = in.version();
  st.config = config_;
  bool have_params = false, have_pages = false, have_time = false, have_console = false, have_populated = false;
  const uint64_t ram_frames = st.config.maxmem_bytes() / kFrameBytes;
  uint64_t next_free_gfn = 0;
  for (;;) {
    const uint64_t offset = in.offset();
    auto rec = in.next();
    if (!rec) break;
    const Where w{in.records_read(), offset, rec->type};
    auto once = [&](bool& seen) {
      if (seen) refuse(w, "appears twice");
      seen = true;
    };
    if (in.version() < 2 && (rec->type == S::RECORD_MEMORY_PASS || rec->type == S::RECORD_POPULATED))
      refuse(w, "is not a record of format version " + std::to_string(in.version()));
    switch (rec->type) {
      case S::RECORD_DOMAIN_CONFIG: refuse(w, "appears twice");
      case S::RECORD_MEMORY_PASS: {
        if (have_populated) refuse(w, "a memory pass after the populated frames");
        const auto p = parse<S::MemoryPass>(*rec, w);
        if (p.pass() != st.passes + 1)
          refuse(w, "memory pass " + std::to_string(p.pass()) + " where pass " + std::to_string(st.passes + 1) + " was due");
        st.passes = passes_ = p.pass();
        next_free_gfn = 0;  // this pass ascends afresh
        break;
      }
      case S::RECORD_POPULATED: {
        once(have_populated);
        const auto p = parse<S::PopulatedFrames>(*rec, w);
        if (p.first_gfn_size() != p.count_size()) refuse(w, "first frames and counts do not pair up");
        uint64_t next = 0;
        for (int i = 0; i < p.first_gfn_size(); i++) {
          const uint64_t first = p.first_gfn(i), n = p.count(i);
          if (n == 0 || first < next || first >= ram_frames || n > ram_frames - first)
            refuse(w, "run " + std::to_string(first) + "+" + std::to_string(n) +
                          " is empty, out of order or outside guest RAM");
          st.populated.emplace_back(first, n);
          next = first + n;
        }
        break;
      }
      case S::RECORD_VCPU: {
        if (st.vcpus.size() >= st.config.vcpus()) refuse(w, "more vcpu records than the domain's vcpus");
        auto v = parse<S::VcpuState>(*rec, w);
        check_vcpu(v, static_cast<uint32_t>(st.vcpus.size()), ram_frames, w);
        st.vcpus.push_back(std::move(v));
        break;
      }
      case S::RECORD_MEMORY: {
        auto run = parse<S::MemoryRun>(*rec, w);
        const uint64_t bytes = run.data().size();
        if (bytes == 0 || bytes % kFrameBytes || bytes / kFrameBytes > kMaxFramesPerRun)
          refuse(w, "memory run of " + std::to_string(bytes) + " bytes is not 1.." +
                        std::to_string(kMaxFramesPerRun) + " whole frames");
        const uint64_t n = bytes / kFrameBytes;
        if (run.first_gfn() >= ram_frames || n > ram_frames - run.first_gfn())
          refuse(w, "frames " + std::to_string(run.first_gfn()) + "+" + std::to_string(n) + " are outside guest RAM (" +
                        std::to_string(ram_frames) + " frames)");
        if (have_populated) refuse(w, "memory after the populated frames");
        if (run.first_gfn() < next_free_gfn) refuse(w, "memory runs overlap or are out of order");
        next_free_gfn = run.first_gfn() + n;
        st.memory_frames += n;
        memory(run.first_gfn(), run.data());
        break;
      }
      case S::RECORD_HVM_PARAMS:
        once(have_params);
        st.hvm_params = parse<S::HvmParams>(*rec, w);
        for (const auto& p : st.hvm_params.params())
          if (p.index() >= kMaxHvmParamIndex) refuse(w, "HVM param " + std::to_string(p.index()) + " is unknown");
        if (st.hvm_params.callback_vector() > 255) refuse(w, "callback vector over 255");
        break;
      case S::RECORD_XEN_PAGES:
        once(have_pages);
        st.xen_pages = parse<S::XenPages>(*rec, w);
        if (st.xen_pages.shared_info_gfn() != kNoFrame && st.xen_pages.shared_info_gfn() >= ram_frames)
          refuse(w, "shared_info is outside guest RAM");
        if (st.xen_pages.grant_frame_gfns_size() > static_cast<int>(kMaxGrantFrames)) refuse(w, "too many grant frames");
        for (uint64_t g : st.xen_pages.grant_frame_gfns())
          if (g != kNoFrame && g >= ram_frames) refuse(w, "a grant frame is outside guest RAM");
        if (!st.xen_pages.shared_info().empty() && st.xen_pages.shared_info().size() != kFrameBytes)
          refuse(w, "the shared_info page is not 4096 bytes");
        break;
      case S::RECORD_TIME:
        once(have_time);
        st.time = parse<S::TimeState>(*rec, w);
        if (st.time.tsc_khz() == 0) refuse(w, "the TSC frequency is 0");
        if (st.time.wallclock_nsec() >= 1000000000u) refuse(w, "wallclock nanoseconds over a second");
        if (st.time.timers_size() > static_cast<int>(kMaxTimers)) refuse(w, "too many timers");
        for (const auto& t : st.time.timers())
          if (t.vcpu() >= st.config.vcpus()) refuse(w, "a timer names vcpu " + std::to_string(t.vcpu()));
        break;
      case S::RECORD_CONSOLE:
        once(have_console);
        st.console = parse<S::ConsoleState>(*rec, w);
        break;
      default:
        refuse(w, "unknown record type " + std::to_string(rec->type) + " for format version " +
                      std::to_string(in.version()));
    }
  }
  const std::string end = "save stream ends (record " + std::to_string(in.records_read()) + ") without ";
  if (st.passes && !have_populated) throw StreamError(end + "its populated frames (it has memory passes)");
  if (st.vcpus.size() != st.config.vcpus())
    throw StreamError(end + "all its vcpus: " + std::to_string(st.vcpus.size()) + " of " +
                      std::to_string(st.config.vcpus()));
  if (!have_params) throw StreamError(end + "its hvm params record");
  if (!have_pages) throw StreamError(end + "its xen pages record");
  if (!have_time) throw StreamError(end + "its time record");
  if (!have_console) throw StreamError(end + "its console record");
  return st;
}

S::DomainConfig read_domain_config(int fd) { return DomainStreamReader(fd).config(); }

bool read_toolstack_record(int fd, uint64_t max_bytes, S::DomainConfig& out) {
  std::string bytes;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(bytes.size()));
    if (n < 0) return false;
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > max_bytes) return false;
  }
  return out.ParseFromString(bytes);
}

void take_toolstack_fields(const state::DomainConfig& toolstack, state::DomainConfig& into) {
  into.set_uuid(toolstack.uuid());
  into.set_config_text(toolstack.config_text());
  into.set_memory_target_mib(toolstack.memory_target_mib());
  into.set_memory_max_mib(toolstack.memory_max_mib());
  into.set_vcpus_online(toolstack.vcpus_online());
  into.set_cpu_weight(toolstack.cpu_weight());
  into.set_cpu_cap_set(toolstack.cpu_cap_set());
  into.set_cpu_cap(toolstack.cpu_cap());
}

}  // namespace pv::save
