// What an image file's first bytes say it is. Used only to check a
// configuration, never to choose a format: the format is what the
// configuration says (format=, raw when absent, as xl). Serving an image
// in a format guessed from bytes a guest can write is how QEMU's probing
// CVEs happened (a guest writes a qcow2 header into its raw disk, with a
// backing file naming a host file, and the next boot reads that file);
// here a file that looks like qcow2 but is configured as raw is refused
// instead (docs/disks.md).
#pragma once
#include <string>
#include <string_view>

namespace pv::disk {

// qcow2's magic, the first four bytes of every qcow2 image (v2 and v3).
inline constexpr std::string_view kQcow2Magic{"QFI\xfb", 4};

// "qcow2" when the file open as `fd` starts with qcow2's magic, else
// "raw" (a file shorter than the magic included). Throws SystemError when
// it cannot be read.
std::string_view probe_format(int fd);
// The same for a path (opened read-only); throws UserError naming it.
std::string_view probe_format(const std::string& path);

}  // namespace pv::disk
