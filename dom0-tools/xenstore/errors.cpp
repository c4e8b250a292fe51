#include "xenstore/errors.h"

#include <cerrno>

namespace xenstore {

namespace {
std::string describe(int errnum, const std::string& detail) {
  std::string s(errno_name(errnum));
  if (!detail.empty()) s += ": " + detail;
  return s;
}
}  // namespace

XsError::XsError(int errnum, const std::string& detail)
    : std::runtime_error(describe(errnum, detail)), errnum_(errnum) {}

std::string_view errno_name(int errnum) {
  switch (errnum) {
    case EINVAL: return "EINVAL";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EISDIR: return "EISDIR";
    case ENOENT: return "ENOENT";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EIO: return "EIO";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOSYS: return "ENOSYS";
    case EROFS: return "EROFS";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case EISCONN: return "EISCONN";
    case E2BIG: return "E2BIG";
    case EPERM: return "EPERM";
    default: return "EIO";
  }
}

}  // namespace xenstore
