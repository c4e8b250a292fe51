// A saved domain as records (docs/save-format.md): the typed writer and the
// reader of the save stream, over the framing of pv/save_stream.h. The
// reader checks every record against the domain's configuration before
// anyone uses it (a stream is untrusted input: a file a user hands us),
// so a stream that parses is one a restore can apply without re-checking
// sizes, counts or frame numbers.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "domain_state.pb.h"
#include "pv/save_stream.h"

namespace pv::save {

// Version 1 is the first; version 2 adds the pre-copy records (memory
// passes, the populated frames). A reader reads
// kOldestFormatVersion..kFormatVersion.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kOldestFormatVersion = 1;
inline constexpr uint64_t kFrameBytes = 4096;
inline constexpr uint32_t kMaxFramesPerRun = 1024;  // 4 MiB of memory per record
inline constexpr uint32_t kMaxVcpus = 128;
inline constexpr uint64_t kMaxGuestBytes = 1ull << 40;
inline constexpr uint64_t kNoFrame = ~uint64_t{0};

class DomainStreamWriter {
 public:
  // Writes the header and the domain's configuration record.
  DomainStreamWriter(int fd, const state::DomainConfig& config);
  void vcpu(const state::VcpuState& v);
  // `nframes` populated frames from `first_gfn` on; cut into records of
  // at most kMaxFramesPerRun frames.
  void memory(uint64_t first_gfn, const void* data, uint64_t nframes);
  // Pre-copy (live migration): the runs after pass(n) ascend again and may
  // send a frame once more; a stream with passes ends its memory with
  // populated(), the frames that hold memory at the end.
  void pass(uint32_t n, uint64_t dirty_frames);
  void populated(const std::vector<std::pair<uint64_t, uint64_t>>& runs);
  void hvm_params(const state::HvmParams& p);
  void xen_pages(const state::XenPages& p);
  void time(const state::TimeState& t);
  void console(const state::ConsoleState& c);
  void end();
  uint64_t bytes_written() const { return out_.bytes_written(); }

 private:
  void put(state::RecordType type, const google::protobuf::MessageLite& m);
  StreamWriter out_;
};

// Everything of a stream but its memory.
struct DomainState {
  state::DomainConfig config;
  std::vector<state::VcpuState> vcpus;
  state::HvmParams hvm_params;
  state::XenPages xen_pages;
  state::TimeState time;
  state::ConsoleState console;
  uint64_t memory_frames = 0;  // frames the stream carried (a frame sent in two passes counts twice)
  uint32_t passes = 0;         // pre-copy passes after the first (0: a plain save)
  // A live stream's populated frames at the end (first, count); empty
  // otherwise (then the frames carried are the populated ones).
  std::vector<std::pair<uint64_t, uint64_t>> populated;
  uint32_t version = 0;
};

// Memory as it is read: `data` holds whole frames from `first_gfn` on,
// already checked to lie within the configuration's RAM, in ascending
// order within a pass (never twice in one pass; a later pass's copy of a
// frame replaces the earlier one).
using MemorySink = std::function<void(uint64_t first_gfn, std::string_view data)>;

// Reads a stream in order from `fd` (a file at its start, a pipe or a
// socket: nothing is read twice). The constructor reads and checks the
// header and the configuration record; read_rest() the rest.
class DomainStreamReader {
 public:
  explicit DomainStreamReader(int fd);
  const state::DomainConfig& config() const { return config_; }
  // Reads and checks every record after the configuration; throws
  // StreamError naming the first thing wrong (pv::UserError, so a caller
  // shows the message as it is). Once only.
  DomainState read_rest(const MemorySink& memory);
  // Memory passes read so far (a live stream's, during read_rest).
  uint32_t passes_read() const { return passes_; }

 private:
  uint32_t passes_ = 0;
  StreamReader in_;
  state::DomainConfig config_;
  bool read_ = false;
};

// Reads and checks a whole stream (DomainStreamReader on `fd`).
DomainState read_domain_stream(int fd, const MemorySink& memory);
// The header and the configuration record only (pvd's restore: which domain
// this is, its disks and vifs).
state::DomainConfig read_domain_config(int fd);

// The toolstack's part of a configuration record (pv/control_protocol.h
// kCheckpointToFile), a serialized DomainConfig read from its start with
// pread (a memfd or a file): false when it cannot be read, is longer than
// `max_bytes` or does not parse.
bool read_toolstack_record(int fd, uint64_t max_bytes, state::DomainConfig& out);
// Copies the toolstack's fields of such a record (uuid, config_text, its
// changes since create) into the stream's configuration record.
void take_toolstack_fields(const state::DomainConfig& toolstack, state::DomainConfig& into);

}  // namespace pv::save
