// What an image file is, for pvctl's `disk info` and for checking a disk's
// configured format: the format probed from its first bytes, and a
// description of the image and its backing chain.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pv::disk {

struct ImageInfo {
  struct Backing {
    std::string path;    // as resolved (relative names against the image's directory)
    std::string format;  // "qcow2" or "raw"
    uint64_t virtual_size = 0;
  };
  std::string path;
  std::string format;
  uint64_t virtual_size = 0;
  uint64_t allocated_bytes = 0;  // host space the file uses (st_blocks)
  uint64_t file_bytes = 0;       // its length
  uint64_t cluster_size = 0;     // qcow2 only
  std::vector<Backing> backing_chain;  // nearest first
};

// Opens the image read-only with every check an open for I/O makes (the
// whole backing chain included). Throws UserError.
ImageInfo describe_image(const std::string& path);

}  // namespace pv::disk
