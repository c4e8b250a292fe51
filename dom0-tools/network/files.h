// Small file helpers for pvnet's state files.
#pragma once
#include <sys/types.h>

#include <string>

#include "pv/unique_fd.h"  // pv::UniqueFd

namespace pv::net {

// Writes `bytes` to `path` through a temporary file, fsync and rename, so a
// reader sees the old or the new content, never a mix. Throws
// NetworkError(kSystem).
void write_file_atomically(const std::string& path, const std::string& bytes, mode_t mode);

// The file's content from byte `offset` on ("" if unreadable).
std::string read_file(const std::string& path, size_t offset = 0);

}  // namespace pv::net
