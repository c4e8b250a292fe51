// Small file helpers for the daemons' state files (pvd's registry, pvnet's
// network records and dnsmasq files).
#pragma once
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pv/log.h"

namespace pv {

// Writes `bytes` to `path` through a temporary file, fsync and rename, so a
// reader (or a restarted daemon) sees the old or the new content, never a
// mix. The file gets `mode` whatever the umask. Throws SystemError.
void write_file_atomically(const std::string& path, const std::string& bytes, mode_t mode);

// The file's content from byte `offset` on ("" if unreadable).
std::string read_file(const std::string& path, size_t offset = 0);

// Every "<key>.rec" file in `dir`, parsed as a `Record` (a protobuf
// message: anything with ParseFromString). A file that does not parse, or
// that `accept(record, filename)` refuses, is skipped with a warning
// naming `what` ("domain record"), so one damaged file costs one record,
// never the daemon's start.
template <typename Record, typename Accept>
std::vector<Record> load_records(const std::string& dir, const std::string& what, Accept accept) {
  std::vector<Record> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".rec") continue;
    Record rec;
    if (!rec.ParseFromString(read_file(entry.path().string())) || !accept(rec, entry.path().filename().string())) {
      log::warning("ignoring unreadable " + what + " \"" + entry.path().string() + "\"");
      continue;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace pv
