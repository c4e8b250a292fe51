// A qcow2 image's backing file renamed in its header, as `qemu-img rebase
// -u` (unsafe mode: no data is read or copied; the caller knows the new
// backing file shows the same bytes as the old one, e.g. once the old one
// was committed into it). Used to drop a merged snapshot overlay from the
// middle of a chain (docs/disks.md "Commit and snapshot deletion").
#pragma once
#include <string>

namespace pv::disk {

// Rewrites the header extensions and the backing name of the qcow2 image
// at `path` (not open for writing elsewhere): the backing format extension
// says `format`, every other extension is kept, the name follows them in
// the first cluster. Synced when it returns. Throws UserError (nothing
// written) when the image is not a qcow2 image it may write, or the
// header would not fit in the first cluster.
void rebase_qcow2_unsafe(const std::string& path, const std::string& backing, const std::string& format);

}  // namespace pv::disk
