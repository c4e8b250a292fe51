// Names pvd turns into file names (snapshots, templates, a migrated
// domain's stream) and the files it names after a disk image.
#pragma once
#include <cstddef>
#include <string>

namespace pv::pvd {

// 1 to `max` letters, digits, '_', '-' or '.', not starting with '.': a
// single path component that is never "." or "..", hidden, or a path.
bool is_file_name_word(const std::string& n, size_t max = 64);

// An image's path without its .qcow2 / .img / .raw, for the files made
// beside it (IMAGE.NAME.qcow2 overlays).
std::string image_stem(const std::string& image);

}  // namespace pv::pvd
