#include "admin_framing.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/delimited_message_util.h>

#include <algorithm>

namespace pv::admin {

namespace pbio = google::protobuf::io;

// A length longer than a 32-bit varint (5 bytes) is not a frame length.
constexpr size_t kMaxLengthBytes = 5;

void append_frame(std::string& out, const google::protobuf::MessageLite& message) {
  pbio::StringOutputStream stream(&out);
  pbio::CodedOutputStream coded(&stream);
  google::protobuf::util::SerializeDelimitedToCodedStream(message, &coded);
}

FrameParse parse_frame(std::string_view buf) {
  FrameParse r;
  const size_t window = std::min(buf.size(), kMaxLengthBytes);
  pbio::CodedInputStream in(reinterpret_cast<const uint8_t*>(buf.data()), static_cast<int>(window));
  uint64_t len = 0;
  if (!in.ReadVarint64(&len)) {
    // Within five bytes only a length that is not complete yet fails;
    // five bytes that all continue are not a 32-bit varint.
    if (window < kMaxLengthBytes) return r;
    r.status = FrameParse::kBad;
    r.error = "frame length is not a valid varint";
    return r;
  }
  if (len > kMaxFrameBytes) {
    r.status = FrameParse::kBad;
    r.error = "frame of " + std::to_string(len) + " bytes exceeds the " + std::to_string(kMaxFrameBytes) + "-byte limit";
    return r;
  }
  const auto header = static_cast<size_t>(in.CurrentPosition());
  if (buf.size() - header < len) return r;
  r.status = FrameParse::kFrame;
  r.payload = buf.substr(header, len);
  r.consumed = header + len;
  return r;
}

}  // namespace pv::admin
