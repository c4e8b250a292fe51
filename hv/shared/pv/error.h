// Error reporting: exceptions carry a message a user can act on.
#pragma once
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pv {

// A failure the user can fix (bad argument, bad kernel image, ...).
class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed system call; the message names the call and errno's text.
class SystemError : public std::runtime_error {
 public:
  SystemError(const std::string& what, int err)
      : std::runtime_error(what + ": " + std::strerror(err)), errno_(err) {}
  // With more the caller knows, after errno's text: "what: text (detail)".
  SystemError(const std::string& what, int err, const std::string& detail)
      : std::runtime_error(what + ": " + std::strerror(err) + (detail.empty() ? "" : " (" + detail + ")")),
        errno_(err) {}
  int code() const { return errno_; }

 private:
  int errno_;
};

[[noreturn]] inline void throw_errno(const std::string& what) { throw SystemError(what, errno); }

}  // namespace pv
