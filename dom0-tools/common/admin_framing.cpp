#include "admin_framing.h"

namespace pv::admin {

void append_frame(std::string& out, std::string_view payload) {
  uint64_t n = payload.size();
  do {
    uint8_t byte = n & 0x7f;
    n >>= 7;
    if (n) byte |= 0x80;
    out.push_back(static_cast<char>(byte));
  } while (n);
  out.append(payload);
}

FrameParse parse_frame(std::string_view buf) {
  FrameParse r;
  uint64_t len = 0;
  size_t i = 0;
  for (;; i++) {
    if (i == buf.size()) return r;  // the length itself is incomplete
    if (i == 5) {
      r.status = FrameParse::kBad;
      r.error = "frame length is not a valid varint";
      return r;
    }
    const auto byte = static_cast<uint8_t>(buf[i]);
    len |= uint64_t{byte & 0x7fu} << (7 * i);
    if (!(byte & 0x80)) break;
  }
  if (len > kMaxFrameBytes) {
    r.status = FrameParse::kBad;
    r.error = "frame of " + std::to_string(len) + " bytes exceeds the " + std::to_string(kMaxFrameBytes) + "-byte limit";
    return r;
  }
  const size_t header = i + 1;
  if (buf.size() - header < len) return r;
  r.status = FrameParse::kFrame;
  r.payload = buf.substr(header, len);
  r.consumed = header + len;
  return r;
}

}  // namespace pv::admin
