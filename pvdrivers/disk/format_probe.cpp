#include "disk/format_probe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::disk {

std::string_view probe_format(int fd) {
  char head[kQcow2Magic.size()] = {};
  size_t got = 0;
  while (got < sizeof head) {
    const ssize_t n = ::pread(fd, head + got, sizeof head - got, off_t(got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("reading the first bytes of the image");
    if (n == 0) break;
    got += size_t(n);
  }
  return got == sizeof head && std::string_view(head, sizeof head) == kQcow2Magic ? "qcow2" : "raw";
}

std::string_view probe_format(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw UserError("cannot open " + path + " to check its format: " + std::strerror(errno));
  try {
    return probe_format(fd.get());
  } catch (const SystemError& e) {
    throw UserError(path + ": " + e.what());
  }
}

}  // namespace pv::disk
