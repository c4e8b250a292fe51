#include "xenstore/errors.h"

#include <cerrno>

#include <xen/xs_wire.h>

namespace pv::xenstore {

namespace {
std::string describe(int errnum, const std::string& detail) {
  std::string s(errno_name(errnum));
  if (!detail.empty()) s += ": " + detail;
  return s;
}
}  // namespace

RequestError::RequestError(int errnum, const std::string& detail)
    : std::runtime_error(describe(errnum, detail)), errnum_(errnum) {}

// Names from Xen's table (xs_wire.h's xsd_errors). EPERM is not in it
// (clients read unknown names as EINVAL); anything else unknown is EIO.
std::string_view errno_name(int errnum) {
  for (const auto& e : xen::xenstore::xsd_errors)
    if (e.errnum == errnum) return e.errstring;
  return errnum == EPERM ? "EPERM" : "EIO";
}

}  // namespace pv::xenstore
