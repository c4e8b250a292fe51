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

namespace pv::xenstore {

using DomId = uint16_t;

// Message types, numbered by the one definition of the wire format,
// hv/abi/xen/xs_wire.h (shared with the guest's xenbus client). Xen's names
// (enum xsd_sockmsg_type) are given beside each: the ABI header spells them
// msg::CONTROL etc., without the XS_ prefix.
namespace wire = xen::xenstore;
enum class MsgType : uint32_t {
  kControl = wire::msg::CONTROL,  // XS_CONTROL
  kDirectory = wire::msg::DIRECTORY,  // XS_DIRECTORY
  kRead = wire::msg::READ,  // XS_READ
  kGetPerms = wire::msg::GET_PERMS,  // XS_GET_PERMS
  kWatch = wire::msg::WATCH,  // XS_WATCH
  kUnwatch = wire::msg::UNWATCH,  // XS_UNWATCH
  kTransactionStart = wire::msg::TRANSACTION_START,  // XS_TRANSACTION_START
  kTransactionEnd = wire::msg::TRANSACTION_END,  // XS_TRANSACTION_END
  kIntroduce = wire::msg::INTRODUCE,  // XS_INTRODUCE
  kRelease = wire::msg::RELEASE,  // XS_RELEASE
  kGetDomainPath = wire::msg::GET_DOMAIN_PATH,  // XS_GET_DOMAIN_PATH
  kWrite = wire::msg::WRITE,  // XS_WRITE
  kMkdir = wire::msg::MKDIR,  // XS_MKDIR
  kRm = wire::msg::RM,  // XS_RM
  kSetPerms = wire::msg::SET_PERMS,  // XS_SET_PERMS
  kWatchEvent = wire::msg::WATCH_EVENT,  // XS_WATCH_EVENT
  kError = wire::msg::ERROR,  // XS_ERROR
  kIsDomainIntroduced = wire::msg::IS_DOMAIN_INTRODUCED,  // XS_IS_DOMAIN_INTRODUCED
  kResume = wire::msg::RESUME,  // XS_RESUME
  kSetTarget = wire::msg::SET_TARGET,  // XS_SET_TARGET
  // XS_RESTRICT, removed in Xen 4.9, is answered as unknown.
  kResetWatches = wire::msg::RESET_WATCHES,  // XS_RESET_WATCHES
  kDirectoryPart = wire::msg::DIRECTORY_PART,  // XS_DIRECTORY_PART
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

}  // namespace pv::xenstore
