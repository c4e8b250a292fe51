#include "xenstore/journal_format.h"

#include <array>

namespace pv::xenstore {

namespace {
constexpr std::string_view kMagic = "pvxenstore";
constexpr uint32_t kVersion = 1;
constexpr size_t kFrameHeader = 8;
constexpr uint32_t kMaxRecord = 256u << 20;  // far above any real batch

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}

class Writer {
 public:
  explicit Writer(RecordType type) { out_.push_back(static_cast<char>(type)); }
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) { le(v, 2); }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string take() { return std::move(out_); }

 private:
  void le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view data, RecordType type) : data_(data) {
    if (record_type(data) != type) throw FormatError("unexpected record type");
    pos_ = 1;
  }
  uint8_t u8() { return static_cast<uint8_t>(le(1)); }
  uint16_t u16() { return static_cast<uint16_t>(le(2)); }
  uint32_t u32() { return static_cast<uint32_t>(le(4)); }
  uint64_t u64() { return le(8); }
  std::string str() {
    const uint32_t n = u32();
    need(n);
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  void finish() const {
    if (pos_ != data_.size()) throw FormatError("trailing bytes in a record");
  }

 private:
  void need(size_t n) const {
    if (data_.size() - pos_ < n) throw FormatError("record shorter than its content");
  }
  uint64_t le(int bytes) {
    need(static_cast<size_t>(bytes));
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= uint64_t{static_cast<uint8_t>(data_[pos_ + i])} << (8 * i);
    pos_ += static_cast<size_t>(bytes);
    return v;
  }
  std::string_view data_;
  size_t pos_ = 0;
};

void put_perms(Writer& w, const Permissions& perms) {
  w.u32(static_cast<uint32_t>(perms.entries().size()));
  for (const PermEntry& e : perms.entries()) {
    w.u16(e.domid);
    w.u8(static_cast<uint8_t>(e.access));
  }
}

Permissions get_perms(Reader& r) {
  const uint32_t n = r.u32();
  if (n == 0 || n > 65536) throw FormatError("bad permission count");
  std::vector<PermEntry> entries;
  for (uint32_t i = 0; i < n; i++) {
    PermEntry e;
    e.domid = r.u16();
    e.access = r.u8();
    if (e.access & ~unsigned{kAccessRead | kAccessWrite}) throw FormatError("bad permission bits");
    entries.push_back(e);
  }
  return Permissions(std::move(entries));
}

void put_op(Writer& w, const JournalOp& op) {
  w.u8(static_cast<uint8_t>(op.kind));
  w.str(op.path);
  w.str(op.value);
  put_perms(w, op.perms);
  w.u64(op.generation);
  w.u16(op.domid);
  w.u8(op.relative ? 1 : 0);
  w.u32(op.tx_id);
  w.u16(op.domain.domid);
  w.u64(op.domain.gfn);
  w.u32(op.domain.evtchn);
  w.u8(static_cast<uint8_t>((op.domain.shutdown_reported ? 1 : 0) | (op.domain.target ? 2 : 0)));
  w.u16(op.domain.target.value_or(0));
}

JournalOp get_op(Reader& r) {
  JournalOp op;
  const uint8_t kind = r.u8();
  if (kind < 1 || kind > static_cast<uint8_t>(JournalOp::Kind::kTxClose)) throw FormatError("unknown journal op");
  op.kind = static_cast<JournalOp::Kind>(kind);
  op.path = r.str();
  op.value = r.str();
  op.perms = get_perms(r);
  op.generation = r.u64();
  op.domid = r.u16();
  op.relative = r.u8() != 0;
  op.tx_id = r.u32();
  op.domain.domid = r.u16();
  op.domain.gfn = r.u64();
  op.domain.evtchn = r.u32();
  const uint8_t flags = r.u8();
  const DomId target = r.u16();
  op.domain.shutdown_reported = flags & 1;
  if (flags & 2) op.domain.target = target;
  return op;
}
}  // namespace

uint32_t crc32(std::string_view bytes) {
  static const std::array<uint32_t, 256> kTable = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : bytes) c = kTable[(c ^ static_cast<uint8_t>(ch)) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string frame(std::string_view payload) {
  std::string out;
  out.reserve(kFrameHeader + payload.size());
  const uint32_t words[2] = {static_cast<uint32_t>(payload.size()), crc32(payload)};
  for (uint32_t v : words)
    for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  out.append(payload);
  return out;
}

FrameStatus next_frame(std::string_view data, size_t& offset, std::string& payload) {
  if (offset >= data.size()) return FrameStatus::kEnd;
  if (data.size() - offset < kFrameHeader) return FrameStatus::kTorn;
  auto word = [&](size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= uint32_t{static_cast<uint8_t>(data[at + i])} << (8 * i);
    return v;
  };
  const uint32_t length = word(offset), sum = word(offset + 4);
  if (length > kMaxRecord) return FrameStatus::kCorrupt;
  if (data.size() - offset - kFrameHeader < length) return FrameStatus::kTorn;
  std::string_view body = data.substr(offset + kFrameHeader, length);
  if (crc32(body) != sum) return FrameStatus::kCorrupt;
  payload.assign(body);
  offset += kFrameHeader + length;
  return FrameStatus::kOk;
}

RecordType record_type(std::string_view payload) {
  if (payload.empty()) throw FormatError("empty record");
  const char t = payload.front();
  if (t != 'H' && t != 'B' && t != 'E') throw FormatError("unknown record type");
  return static_cast<RecordType>(t);
}

std::string encode_header(const FileHeader& header) {
  Writer w(RecordType::kHeader);
  w.str(kMagic);
  w.u32(kVersion);
  w.u8(static_cast<uint8_t>(header.kind));
  w.u64(header.epoch);
  return w.take();
}

FileHeader decode_header(std::string_view payload) {
  Reader r(payload, RecordType::kHeader);
  if (r.str() != kMagic) throw FormatError("not a pvd xenstore file");
  if (const uint32_t v = r.u32(); v != kVersion) throw FormatError("format version " + std::to_string(v));
  FileHeader h;
  const uint8_t kind = r.u8();
  if (kind != 1 && kind != 2) throw FormatError("unknown file kind");
  h.kind = static_cast<FileKind>(kind);
  h.epoch = r.u64();
  r.finish();
  return h;
}

std::string encode_batch(const JournalBatch& batch) {
  Writer w(RecordType::kBatch);
  w.u64(batch.generation);
  w.u32(batch.next_transaction_id);
  w.u32(static_cast<uint32_t>(batch.ops.size()));
  for (const JournalOp& op : batch.ops) put_op(w, op);
  return w.take();
}

JournalBatch decode_batch(std::string_view payload) {
  Reader r(payload, RecordType::kBatch);
  JournalBatch b;
  b.generation = r.u64();
  b.next_transaction_id = r.u32();
  const uint32_t n = r.u32();
  for (uint32_t i = 0; i < n; i++) b.ops.push_back(get_op(r));
  r.finish();
  return b;
}

std::string encode_end(uint64_t batches) {
  Writer w(RecordType::kEnd);
  w.u64(batches);
  return w.take();
}

uint64_t decode_end(std::string_view payload) {
  Reader r(payload, RecordType::kEnd);
  const uint64_t n = r.u64();
  r.finish();
  return n;
}

}  // namespace pv::xenstore
