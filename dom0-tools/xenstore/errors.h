// Errors a request can fail with. The wire carries the errno *name*
// ("ENOENT"), as listed in xs_wire.h's xsd_errors table.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace pv::xenstore {

// A request failed with an errno: thrown by request handlers (and by the
// store, path and argument parsers they call); the server answers the
// client with an XS_ERROR reply carrying the errno's Xen name. Typed, so
// callers can tell a refused request from an internal failure.
// (Not the back-end's xenstore *client* error, pvdrivers' XsError.)
class RequestError : public std::runtime_error {
 public:
  explicit RequestError(int errnum, const std::string& detail = {});
  int errnum() const { return errnum_; }

 private:
  int errnum_;
};

// "EINVAL", "EACCES", ... for the errno values xs_wire.h lists (plus EPERM);
// any other value is reported as "EIO" since clients could not decode it.
std::string_view errno_name(int errnum);

}  // namespace pv::xenstore
