// Small file helpers for the daemons' state files (pvd's registry, pvnet's
// network records and dnsmasq files).
#pragma once
#include <sys/types.h>

#include <string>

namespace pv {

// Writes `bytes` to `path` through a temporary file, fsync and rename, so a
// reader (or a restarted daemon) sees the old or the new content, never a
// mix. The file gets `mode` whatever the umask. Throws SystemError.
void write_file_atomically(const std::string& path, const std::string& bytes, mode_t mode);

// The file's content from byte `offset` on ("" if unreadable).
std::string read_file(const std::string& path, size_t offset = 0);

}  // namespace pv
