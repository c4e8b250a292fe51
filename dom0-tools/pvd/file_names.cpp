#include "file_names.h"

#include <cstring>

namespace pv::pvd {

bool is_file_name_word(const std::string& n, size_t max) {
  return !n.empty() && n.size() <= max && n[0] != '.' &&
         n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == std::string::npos;
}

std::string image_stem(const std::string& image) {
  for (const char* ext : {".qcow2", ".img", ".raw"})
    if (image.size() > std::strlen(ext) && image.ends_with(ext)) return image.substr(0, image.size() - std::strlen(ext));
  return image;
}

}  // namespace pv::pvd
