// Frames of the pvd admin protocol: a protobuf varint length, then that
// many bytes of one message (proto/admin.proto) -- protobuf's own
// length-delimited format, written and read with its library
// (google/protobuf/util/delimited_message_util.h, io/coded_stream.h).
// Shared by pvd and pvctl.
#pragma once
#include <google/protobuf/message_lite.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pv::admin {

inline constexpr uint32_t kApiVersion = 1;
inline constexpr size_t kMaxFrameBytes = 1 << 20;

// Appends `message` as one frame to `out`.
void append_frame(std::string& out, const google::protobuf::MessageLite& message);

struct FrameParse {
  enum Status { kNeedMore, kFrame, kBad } status = kNeedMore;
  std::string_view payload;  // kFrame: the message bytes
  size_t consumed = 0;       // kFrame: bytes to drop from the buffer
  std::string error;         // kBad: why (oversized length, bad varint)
};

// Looks for one complete frame at the start of `buf`.
FrameParse parse_frame(std::string_view buf);

}  // namespace pv::admin
