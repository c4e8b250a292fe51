// The xenstore wire protocol (Xen's public/io/xs_wire.h and
// docs/misc/xenstore.txt): a 16-byte header followed by `len` payload bytes,
// the same on a Unix socket and on a guest's ring page.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <xen/xen.h>
#include <xen/xs_wire.h>

namespace xenstore {

using DomId = uint16_t;

// Message types, numbered by the one definition of the wire format,
// hv/abi/xen/xs_wire.h (shared with the guest's xenbus client).
namespace wire = xen::xenstore;
enum class MsgType : uint32_t {
  Control = wire::msg::CONTROL,
  Directory = wire::msg::DIRECTORY,
  Read = wire::msg::READ,
  GetPerms = wire::msg::GET_PERMS,
  Watch = wire::msg::WATCH,
  Unwatch = wire::msg::UNWATCH,
  TransactionStart = wire::msg::TRANSACTION_START,
  TransactionEnd = wire::msg::TRANSACTION_END,
  Introduce = wire::msg::INTRODUCE,
  Release = wire::msg::RELEASE,
  GetDomainPath = wire::msg::GET_DOMAIN_PATH,
  Write = wire::msg::WRITE,
  Mkdir = wire::msg::MKDIR,
  Rm = wire::msg::RM,
  SetPerms = wire::msg::SET_PERMS,
  WatchEvent = wire::msg::WATCH_EVENT,
  Error = wire::msg::ERROR,
  IsDomainIntroduced = wire::msg::IS_DOMAIN_INTRODUCED,
  Resume = wire::msg::RESUME,
  SetTarget = wire::msg::SET_TARGET,
  // XS_RESTRICT, removed in Xen 4.9, is answered as unknown.
  ResetWatches = wire::msg::RESET_WATCHES,
  DirectoryPart = wire::msg::DIRECTORY_PART,
};

// struct xsd_sockmsg, in host byte order on both transports.
using WireHeader = wire::xsd_sockmsg;
static_assert(sizeof(WireHeader) == 16);

inline constexpr size_t kHeaderSize = sizeof(WireHeader);
inline constexpr uint32_t kPayloadMax = wire::XENSTORE_PAYLOAD_MAX;
inline constexpr size_t kAbsPathMax = wire::XENSTORE_ABS_PATH_MAX;
inline constexpr size_t kRelPathMax = wire::XENSTORE_REL_PATH_MAX;
inline constexpr DomId kDomidFirstReserved = xen::DOMID_FIRST_RESERVED;

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
