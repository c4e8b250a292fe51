// Making a new, empty qcow2 image (what `qemu-img create -f qcow2` makes):
// version 3, 16-bit refcounts, zlib compression, no lazy refcounts.
#pragma once
#include <cstdint>
#include <string>

namespace pv::disk {

inline constexpr uint64_t kDefaultClusterSize = 64 * 1024;

// Creates `path` (which must not exist yet) for a virtual disk of
// `virtual_size` bytes (0 with a backing file: the backing file's size;
// rounded up to whole 512-byte sectors).
// `backing_path`, when given, is stored as given; a relative name is
// relative to the new image's directory, as QEMU resolves it. It is opened
// and checked first (its whole chain); `backing_format` ("qcow2", "raw",
// or "" to probe it) is recorded in the image. `cluster_size`: a power of
// two from 512 B to 2 MiB. Throws UserError.
void create_qcow2(const std::string& path, uint64_t virtual_size, const std::string& backing_path = "",
                  const std::string& backing_format = "", uint64_t cluster_size = kDefaultClusterSize);

}  // namespace pv::disk
