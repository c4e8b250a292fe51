#include "xenstore/message_reader.h"

#include <cstring>

namespace pv::xenstore {

std::optional<Message> MessageReader::next() {
  if (buffered() < kHeaderSize) return std::nullopt;
  WireHeader hdr;
  std::memcpy(&hdr, buffer_.data() + consumed_, kHeaderSize);
  if (hdr.len > kPayloadMax)
    throw FramingError("message " + type_name(hdr.type) + " announces a " + std::to_string(hdr.len) +
                       "-byte payload, above XENSTORE_PAYLOAD_MAX (4096)");
  if (buffered() < kHeaderSize + hdr.len) return std::nullopt;
  Message msg{hdr.type, hdr.req_id, hdr.tx_id,
              buffer_.substr(consumed_ + kHeaderSize, hdr.len)};
  consumed_ += kHeaderSize + hdr.len;
  // Compact once the consumed prefix dominates, so the buffer stays small.
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > 4 * (kHeaderSize + kPayloadMax)) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return msg;
}

}  // namespace pv::xenstore
