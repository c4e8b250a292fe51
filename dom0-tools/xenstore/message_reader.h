// Splits a byte stream into xenstore messages. Bytes arrive in any chunking
// (a socket read, a ring copy); complete messages come out whole.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "xenstore/wire.h"

namespace pv::xenstore {

// The stream is unusable (a header announced more than kPayloadMax bytes):
// the peer must be disconnected, as xenstore.txt prescribes.
class FramingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class MessageReader {
 public:
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete message, or nullopt if more bytes are needed.
  // Throws FramingError on an oversized length field.
  std::optional<Message> next();
  // Bytes received but not yet returned as messages.
  size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::string buffer_;
  size_t consumed_ = 0;
};

}  // namespace pv::xenstore
