// The xenstore wire format (public/io/xs_wire.h): a 16-byte header followed
// by `len` payload bytes, the same on a Unix socket and on a guest's ring
// page (the ring itself is in xenstore_ring.h). Payloads are NUL-separated
// strings; errors come back as XS_ERROR carrying the errno *name*.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace xen::xenstore {

// enum xsd_sockmsg_type
namespace msg {
inline constexpr uint32_t CONTROL = 0;  // formerly XS_DEBUG
inline constexpr uint32_t DIRECTORY = 1;
inline constexpr uint32_t READ = 2;
inline constexpr uint32_t GET_PERMS = 3;
inline constexpr uint32_t WATCH = 4;
inline constexpr uint32_t UNWATCH = 5;
inline constexpr uint32_t TRANSACTION_START = 6;
inline constexpr uint32_t TRANSACTION_END = 7;
inline constexpr uint32_t INTRODUCE = 8;
inline constexpr uint32_t RELEASE = 9;
inline constexpr uint32_t GET_DOMAIN_PATH = 10;
inline constexpr uint32_t WRITE = 11;
inline constexpr uint32_t MKDIR = 12;
inline constexpr uint32_t RM = 13;
inline constexpr uint32_t SET_PERMS = 14;
inline constexpr uint32_t WATCH_EVENT = 15;
inline constexpr uint32_t ERROR = 16;
inline constexpr uint32_t IS_DOMAIN_INTRODUCED = 17;
inline constexpr uint32_t RESUME = 18;
inline constexpr uint32_t SET_TARGET = 19;
inline constexpr uint32_t RESTRICT = 20;  // removed in Xen 4.9; servers answer it as unknown
inline constexpr uint32_t RESET_WATCHES = 21;
inline constexpr uint32_t DIRECTORY_PART = 22;
inline constexpr uint32_t INVALID = 0xffff;  // guaranteed to remain invalid
}  // namespace msg

struct xsd_sockmsg {
  uint32_t type;    // msg::*
  uint32_t req_id;  // request identifier, echoed in the reply
  uint32_t tx_id;   // transaction id (0 if not in a transaction)
  uint32_t len;     // payload bytes that follow
};
static_assert(sizeof(xsd_sockmsg) == 16);
static_assert(offsetof(xsd_sockmsg, tx_id) == 8);
static_assert(offsetof(xsd_sockmsg, len) == 12);

// XS_WATCH_EVENT payload: "<path>\0<token>\0" (enum xs_watch_type).
inline constexpr unsigned XS_WATCH_PATH = 0;
inline constexpr unsigned XS_WATCH_TOKEN = 1;

// Optional XS_WRITE modes of old servers (XS_WRITE_NONE/CREATE/CREATE_EXCL).
inline constexpr const char* XS_WRITE_NONE = "NONE";
inline constexpr const char* XS_WRITE_CREATE = "CREATE";
inline constexpr const char* XS_WRITE_CREATE_EXCL = "CREATE|EXCL";

// Violating this is very bad (docs/misc/xenstore.txt): the server may drop
// the connection. Longer paths just get an error back.
inline constexpr uint32_t XENSTORE_PAYLOAD_MAX = 4096;
inline constexpr uint32_t XENSTORE_ABS_PATH_MAX = 3072;
inline constexpr uint32_t XENSTORE_REL_PATH_MAX = 2048;

// The errno names XS_ERROR may carry (struct xsd_errors), with Xen's errno
// values (public/errno.h) so a client can map a name to a number.
struct xsd_error {
  int errnum;
  const char* errstring;
};
inline constexpr xsd_error xsd_errors[] = {
    {22, "EINVAL"}, {13, "EACCES"}, {17, "EEXIST"}, {21, "EISDIR"},    {2, "ENOENT"},
    {12, "ENOMEM"}, {28, "ENOSPC"}, {5, "EIO"},     {39, "ENOTEMPTY"}, {38, "ENOSYS"},
    {30, "EROFS"},  {16, "EBUSY"},  {11, "EAGAIN"}, {106, "EISCONN"},  {7, "E2BIG"},
};
static_assert(sizeof(xsd_errors) / sizeof(xsd_errors[0]) == 15);

}  // namespace xen::xenstore

// ---- Xen's spellings (public/io/xs_wire.h); see xen.h ----
namespace xen {
// enum xsd_sockmsg_type
inline constexpr uint32_t XS_CONTROL = xenstore::msg::CONTROL;
inline constexpr uint32_t XS_DIRECTORY = xenstore::msg::DIRECTORY;
inline constexpr uint32_t XS_READ = xenstore::msg::READ;
inline constexpr uint32_t XS_GET_PERMS = xenstore::msg::GET_PERMS;
inline constexpr uint32_t XS_WATCH = xenstore::msg::WATCH;
inline constexpr uint32_t XS_UNWATCH = xenstore::msg::UNWATCH;
inline constexpr uint32_t XS_TRANSACTION_START = xenstore::msg::TRANSACTION_START;
inline constexpr uint32_t XS_TRANSACTION_END = xenstore::msg::TRANSACTION_END;
inline constexpr uint32_t XS_INTRODUCE = xenstore::msg::INTRODUCE;
inline constexpr uint32_t XS_RELEASE = xenstore::msg::RELEASE;
inline constexpr uint32_t XS_GET_DOMAIN_PATH = xenstore::msg::GET_DOMAIN_PATH;
inline constexpr uint32_t XS_WRITE = xenstore::msg::WRITE;
inline constexpr uint32_t XS_MKDIR = xenstore::msg::MKDIR;
inline constexpr uint32_t XS_RM = xenstore::msg::RM;
inline constexpr uint32_t XS_SET_PERMS = xenstore::msg::SET_PERMS;
inline constexpr uint32_t XS_WATCH_EVENT = xenstore::msg::WATCH_EVENT;
inline constexpr uint32_t XS_ERROR = xenstore::msg::ERROR;
inline constexpr uint32_t XS_IS_DOMAIN_INTRODUCED = xenstore::msg::IS_DOMAIN_INTRODUCED;
inline constexpr uint32_t XS_RESUME = xenstore::msg::RESUME;
inline constexpr uint32_t XS_SET_TARGET = xenstore::msg::SET_TARGET;
inline constexpr uint32_t XS_RESTRICT = xenstore::msg::RESTRICT;  // removed from Xen's header (4.9)
inline constexpr uint32_t XS_RESET_WATCHES = xenstore::msg::RESET_WATCHES;
inline constexpr uint32_t XS_DIRECTORY_PART = xenstore::msg::DIRECTORY_PART;
inline constexpr uint32_t XS_DEBUG = XS_CONTROL;  // the old name of XS_CONTROL
// Named in Xen 4.21's header; not served by the project's xenstored.
inline constexpr uint32_t XS_GET_FEATURE = 23;
inline constexpr uint32_t XS_SET_FEATURE = 24;
inline constexpr uint32_t XS_GET_QUOTA = 25;
inline constexpr uint32_t XS_SET_QUOTA = 26;
inline constexpr uint32_t XS_TYPE_COUNT = 27;
inline constexpr uint32_t XS_INVALID = xenstore::msg::INVALID;

using xenstore::XS_WATCH_PATH;
using xenstore::XS_WATCH_TOKEN;
using xenstore::XS_WRITE_NONE;
using xenstore::XS_WRITE_CREATE;
using xenstore::XS_WRITE_CREATE_EXCL;
using xenstore::XENSTORE_PAYLOAD_MAX;
using xenstore::XENSTORE_ABS_PATH_MAX;
using xenstore::XENSTORE_REL_PATH_MAX;
using xenstore::xsd_sockmsg;
using xenstore::xsd_errors;
}  // namespace xen
