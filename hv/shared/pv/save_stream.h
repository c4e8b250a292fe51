// The framing of a saved domain (docs/save-format.md): a header (magic,
// format version), then records, each framed (type, length) and
// checksummed (CRC-32C), ending with an End record. What a record's
// payload means is the layer above's (proto/save/domain_stream.h); this
// layer only guarantees a reader never hands out bytes that were not
// written as one whole record of a version it knows.
//
// Little-endian on the wire:
//   header  : magic "PVHVSAVE" (8 bytes) | u32 version | u32 crc32c(magic, version)
//   record  : u32 type | u32 length | payload (length bytes) | u32 crc32c(type, length, payload)
//   end     : a record of type kEndRecord and length 0
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "pv/error.h"

namespace pv::save {

inline constexpr char kMagic[8] = {'P', 'V', 'H', 'V', 'S', 'A', 'V', 'E'};
inline constexpr uint32_t kEndRecord = 0;
inline constexpr size_t kHeaderBytes = 16;
inline constexpr size_t kRecordOverhead = 12;  // type, length, crc
// Larger records are refused before anything is allocated for them.
inline constexpr uint32_t kMaxRecordBytes = 16u << 20;

// A stream that cannot be read: the message says what is wrong with it and
// where (byte offset), e.g. "bad checksum in record 3 (type 5) at byte 4096".
class StreamError : public UserError {
 public:
  using UserError::UserError;
};

// Writes a stream to `fd` (a file, a pipe or a socket; not owned). Throws
// SystemError on a failed write.
class StreamWriter {
 public:
  StreamWriter(int fd, uint32_t version);
  void record(uint32_t type, std::string_view payload);
  void end();  // the End record; nothing may follow
  uint64_t bytes_written() const { return offset_; }

 private:
  void put(const void* data, size_t len);
  int fd_;
  uint64_t offset_ = 0;
  bool ended_ = false;
};

struct StreamRecord {
  uint32_t type;
  std::string payload;
};

// Reads a stream from `fd` (not owned). The constructor reads the header
// and refuses a bad magic, a version newer than `newest` or older than
// `oldest`, or a damaged header. next() returns records in order and
// nullopt after the End record (having checked nothing follows it); it
// throws StreamError for a bad checksum, an oversized record, a truncated
// stream, or a record after End.
class StreamReader {
 public:
  StreamReader(int fd, uint32_t oldest, uint32_t newest);
  uint32_t version() const { return version_; }
  std::optional<StreamRecord> next();
  uint64_t offset() const { return offset_; }
  uint64_t records_read() const { return records_; }

 private:
  // Reads exactly len bytes; false at a clean end of input before any byte.
  bool get(void* data, size_t len, const char* what);
  int fd_;
  uint32_t version_ = 0;
  uint64_t offset_ = 0;
  uint64_t records_ = 0;
  bool ended_ = false;
};

}  // namespace pv::save
