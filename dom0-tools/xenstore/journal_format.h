// The on-disk form of xenstored's durable state (docs/xenstore.md,
// "Durability"). A file is a sequence of records, each framed as
//   u32 payload length | u32 CRC-32 of the payload | payload
// (little endian). The first record is a header (file kind, format version,
// epoch), then batches: each batch is what one request (or one pvd call)
// changed, applied all or nothing. A snapshot ends with an end record; a
// journal simply stops.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "xenstore/permissions.h"
#include "xenstore/wire.h"

namespace pv::xenstore {

// A record that checks out (CRC) but does not decode: a bug or a foreign file.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SavedDomain {
  DomId domid = 0;
  uint64_t gfn = 0;
  uint32_t evtchn = 0;
  bool shutdown_reported = false;
  std::optional<DomId> target;
  bool operator==(const SavedDomain&) const = default;
};

// One change to the durable state.
struct JournalOp {
  enum class Kind : uint8_t {
    kPutNode = 1,   // path, value, perms, generation (children untouched)
    kEraseNode,     // path and its subtree
    kDomain,        // domain: introduced or changed
    kReleaseDomain, // domid: gone, with its watches and transactions
    kWatchAdd,      // domid, path, value = token, relative
    kWatchRemove,   // domid, path, value = token
    kWatchesReset,  // domid: no watches, no open transactions
    kTxOpen,        // domid, tx_id
    kTxClose,       // domid, tx_id
  };
  Kind kind = Kind::kPutNode;
  std::string path;
  std::string value;
  Permissions perms;
  uint64_t generation = 0;
  DomId domid = 0;
  bool relative = false;
  uint32_t tx_id = 0;
  SavedDomain domain;
  bool operator==(const JournalOp&) const = default;
};

struct JournalBatch {
  uint64_t generation = 0;           // the store's generation counter afterwards
  uint32_t next_transaction_id = 1;  // the server's, afterwards
  std::vector<JournalOp> ops;
};

enum class FileKind : uint8_t { kSnapshot = 1, kJournal = 2 };

struct FileHeader {
  FileKind kind = FileKind::kSnapshot;
  uint64_t epoch = 0;  // a journal belongs to the snapshot of the same epoch
};

uint32_t crc32(std::string_view bytes);

// [length][crc][payload].
std::string frame(std::string_view payload);

enum class FrameStatus {
  kOk,       // `payload` holds the record; `offset` moved past it
  kEnd,      // no bytes left
  kTorn,     // the bytes stop inside a record (a write cut short)
  kCorrupt,  // checksum mismatch or an impossible length
};
FrameStatus next_frame(std::string_view data, size_t& offset, std::string& payload);

std::string encode_header(const FileHeader& header);
std::string encode_batch(const JournalBatch& batch);
std::string encode_end(uint64_t batches);

enum class RecordType : uint8_t { kHeader = 'H', kBatch = 'B', kEnd = 'E' };
// The type of a framed payload; throws FormatError if empty or unknown.
RecordType record_type(std::string_view payload);
// Throw FormatError when the payload is not of that type or malformed.
FileHeader decode_header(std::string_view payload);
JournalBatch decode_batch(std::string_view payload);
uint64_t decode_end(std::string_view payload);

}  // namespace pv::xenstore
