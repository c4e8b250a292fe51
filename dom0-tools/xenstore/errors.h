// Errors a request can fail with. The wire carries the errno *name*
// ("ENOENT"), as listed in xs_wire.h's xsd_errors table.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace xenstore {

// Thrown by request handlers; the server turns it into an XS_ERROR reply.
class XsError : public std::runtime_error {
 public:
  explicit XsError(int errnum, const std::string& detail = {});
  int errnum() const { return errnum_; }

 private:
  int errnum_;
};

// "EINVAL", "EACCES", ... for the errno values xs_wire.h lists (plus EPERM);
// any other value is reported as "EIO" since clients could not decode it.
std::string_view errno_name(int errnum);

}  // namespace xenstore
