#include "pv/save_stream.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pv/crc32c.h"

namespace pv::save {
namespace {

void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

std::string at(uint64_t offset) { return " at byte " + std::to_string(offset); }

}  // namespace

StreamWriter::StreamWriter(int fd, uint32_t version) : fd_(fd) {
  uint8_t h[kHeaderBytes];
  std::memcpy(h, kMagic, sizeof kMagic);
  put_le32(h + 8, version);
  put_le32(h + 12, crc32c(h, 12));
  put(h, sizeof h);
}

void StreamWriter::put(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (len) {
    const ssize_t n = ::write(fd_, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("writing the save stream" + at(offset_));
    p += n;
    len -= static_cast<size_t>(n);
    offset_ += static_cast<uint64_t>(n);
  }
}

void StreamWriter::record(uint32_t type, std::string_view payload) {
  if (ended_) throw std::logic_error("save stream: record after the end record");
  if (payload.size() > kMaxRecordBytes)
    throw std::logic_error("save stream: record of " + std::to_string(payload.size()) + " bytes is over the limit");
  uint8_t h[8];
  put_le32(h, type);
  put_le32(h + 4, static_cast<uint32_t>(payload.size()));
  uint8_t crc[4];
  put_le32(crc, crc32c_update(crc32c(h, sizeof h), payload.data(), payload.size()));
  put(h, sizeof h);
  put(payload.data(), payload.size());
  put(crc, sizeof crc);
  if (type == kEndRecord) ended_ = true;
}

void StreamWriter::end() { record(kEndRecord, {}); }

StreamReader::StreamReader(int fd, uint32_t oldest, uint32_t newest) : fd_(fd) {
  uint8_t h[kHeaderBytes];
  if (!get(h, sizeof h, "header")) throw StreamError("not a save stream: it is empty");
  if (std::memcmp(h, kMagic, sizeof kMagic) != 0) throw StreamError("not a save stream: bad magic (not \"PVHVSAVE\")");
  version_ = get_le32(h + 8);
  if (get_le32(h + 12) != crc32c(h, 12)) throw StreamError("save stream header damaged: bad checksum");
  if (version_ > newest)
    throw StreamError("save stream format version " + std::to_string(version_) +
                      " is newer than this build reads (up to " + std::to_string(newest) + ")");
  if (version_ < oldest)
    throw StreamError("save stream format version " + std::to_string(version_) +
                      " is older than this build reads (from " + std::to_string(oldest) + ")");
}

bool StreamReader::get(void* data, size_t len, const char* what) {
  auto* p = static_cast<uint8_t*>(data);
  size_t got = 0;
  while (got < len) {
    const ssize_t n = ::read(fd_, p + got, len - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno(std::string("reading the save stream's ") + what + at(offset_));
    if (n == 0) {
      if (got == 0) return false;
      throw StreamError(std::string("save stream truncated in the ") + what + at(offset_));
    }
    got += static_cast<size_t>(n);
    offset_ += static_cast<uint64_t>(n);
  }
  return true;
}

std::optional<StreamRecord> StreamReader::next() {
  if (ended_) return std::nullopt;
  const uint64_t start = offset_;
  const std::string which = "record " + std::to_string(records_ + 1);
  uint8_t h[8];
  if (!get(h, sizeof h, "record header"))
    throw StreamError("save stream truncated: " + which + at(start) + " is missing (no end record)");
  StreamRecord rec{get_le32(h), {}};
  const uint32_t len = get_le32(h + 4);
  const std::string where = which + " (type " + std::to_string(rec.type) + ")" + at(start);
  if (len > kMaxRecordBytes)
    throw StreamError("save stream " + where + " is " + std::to_string(len) + " bytes, over the limit of " +
                      std::to_string(kMaxRecordBytes));
  if (rec.type == kEndRecord && len != 0) throw StreamError("save stream " + where + ": end record with a payload");
  rec.payload.resize(len);
  uint8_t crc[4];
  if ((len && !get(rec.payload.data(), len, "record payload")) || !get(crc, sizeof crc, "record checksum"))
    throw StreamError("save stream truncated in " + where);
  if (get_le32(crc) != crc32c_update(crc32c(h, sizeof h), rec.payload.data(), len))
    throw StreamError("save stream " + where + ": bad checksum");
  records_++;
  if (rec.type != kEndRecord) return rec;
  ended_ = true;
  uint8_t extra;
  if (get(&extra, 1, "end")) throw StreamError("save stream has data after its end record" + at(offset_ - 1));
  return std::nullopt;
}

}  // namespace pv::save
