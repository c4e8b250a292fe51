// The xenstore wire protocol (Xen's public/io/xs_wire.h and
// docs/misc/xenstore.txt): a 16-byte header followed by `len` payload bytes,
// the same on a Unix socket and on a guest's ring page.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xenstore {

using DomId = uint16_t;

// Message types, numbered as xs_wire.h's enum xsd_sockmsg_type.
enum class MsgType : uint32_t {
  Control = 0,  // formerly XS_DEBUG
  Directory = 1,
  Read = 2,
  GetPerms = 3,
  Watch = 4,
  Unwatch = 5,
  TransactionStart = 6,
  TransactionEnd = 7,
  Introduce = 8,
  Release = 9,
  GetDomainPath = 10,
  Write = 11,
  Mkdir = 12,
  Rm = 13,
  SetPerms = 14,
  WatchEvent = 15,
  Error = 16,
  IsDomainIntroduced = 17,
  Resume = 18,
  SetTarget = 19,
  // 20 was XS_RESTRICT, removed in Xen 4.9: answered as unknown.
  ResetWatches = 21,
  DirectoryPart = 22,
};

// struct xsd_sockmsg, in host byte order on both transports.
struct WireHeader {
  uint32_t type;
  uint32_t req_id;  // echoed in the reply
  uint32_t tx_id;   // transaction id, 0 outside a transaction
  uint32_t len;     // payload bytes that follow
};
static_assert(sizeof(WireHeader) == 16);

inline constexpr size_t kHeaderSize = sizeof(WireHeader);
inline constexpr uint32_t kPayloadMax = 4096;    // XENSTORE_PAYLOAD_MAX
inline constexpr size_t kAbsPathMax = 3072;      // XENSTORE_ABS_PATH_MAX
inline constexpr size_t kRelPathMax = 2048;      // XENSTORE_REL_PATH_MAX
inline constexpr DomId kDomidFirstReserved = 0x7FF0;  // DOMID_FIRST_RESERVED

// One framed message, either direction.
struct Message {
  uint32_t type = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  std::string payload;

  MsgType msg_type() const { return static_cast<MsgType>(type); }
};

// Header plus payload, ready to send. The payload must fit kPayloadMax.
std::string encode(const Message& msg);

// "READ", "WRITE", ... for logs; "UNKNOWN(<n>)" for anything else.
std::string type_name(uint32_t type);

}  // namespace xenstore
