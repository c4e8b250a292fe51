// Small file helpers for pvnet's state files.
#pragma once
#include <sys/types.h>

#include <unistd.h>

#include <string>
#include <utility>

namespace pv::net {

// Owns one file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

// Writes `bytes` to `path` through a temporary file, fsync and rename, so a
// reader sees the old or the new content, never a mix. Throws
// NetworkError(kSystem).
void write_file_atomically(const std::string& path, const std::string& bytes, mode_t mode);

// The file's content from byte `offset` on ("" if unreadable).
std::string read_file(const std::string& path, size_t offset = 0);

}  // namespace pv::net
