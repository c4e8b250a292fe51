// Frames of the pvd admin protocol: a protobuf varint length, then that
// many bytes of one message (proto/admin.proto). Shared by pvd and pvctl.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pv::admin {

inline constexpr uint32_t kApiVersion = 1;
inline constexpr size_t kMaxFrameBytes = 1 << 20;

// Appends one frame holding `payload` to `out`.
void append_frame(std::string& out, std::string_view payload);

struct FrameParse {
  enum Status { kNeedMore, kFrame, kBad } status = kNeedMore;
  std::string_view payload;  // kFrame: the message bytes
  size_t consumed = 0;       // kFrame: bytes to drop from the buffer
  std::string error;         // kBad: why (oversized length, bad varint)
};

// Looks for one complete frame at the start of `buf`.
FrameParse parse_frame(std::string_view buf);

}  // namespace pv::admin
