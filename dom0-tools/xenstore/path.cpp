#include "xenstore/path.h"

#include <cerrno>
#include <charconv>

#include "xenstore/errors.h"

namespace pv::xenstore {

std::string domain_path(DomId domid) { return "/local/domain/" + std::to_string(domid); }

bool is_relative(std::string_view path) {
  return !path.empty() && path.front() != '/' && path.front() != '@';
}

namespace {
bool valid_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '/' || c == '_' || c == '@';
}

// Length of "/local/domain/<digits>/" at the start of `path`, or 0.
size_t local_domain_prefix(std::string_view path) {
  constexpr std::string_view kPrefix = "/local/domain/";
  if (!path.starts_with(kPrefix)) return 0;
  size_t i = kPrefix.size();
  while (i < path.size() && path[i] >= '0' && path[i] <= '9') i++;
  if (i == kPrefix.size() || i >= path.size() || path[i] != '/') return 0;
  return i + 1;
}
}  // namespace

bool is_valid_absolute(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  if (path.size() > kAbsPathMax) return false;
  // Xen's rule: below a domain's home, the part after it is bounded by the
  // relative-path limit.
  if (path.size() > local_domain_prefix(path) + kRelPathMax) return false;
  if (path.size() > 1 && path.back() == '/') return false;
  for (size_t i = 0; i < path.size(); i++) {
    if (!valid_char(path[i])) return false;
    if (path[i] == '/' && i + 1 < path.size() && path[i + 1] == '/') return false;
  }
  return true;
}

std::string canonical_path(std::string_view path, DomId domid) {
  if (path.empty()) throw RequestError(EINVAL, "empty path");
  std::string abs;
  if (is_relative(path)) {
    if (path.size() > kRelPathMax) throw RequestError(EINVAL, "relative path longer than 2048 bytes");
    abs = domain_path(domid) + "/" + std::string(path);
  } else {
    abs = std::string(path);
  }
  if (!is_valid_absolute(abs)) throw RequestError(EINVAL, "invalid path '" + abs.substr(0, 64) + "'");
  return abs;
}

std::string canonical_watch_path(std::string_view path, DomId domid) {
  if (!path.empty() && path.front() == '@') {
    if (path.size() > kRelPathMax) throw RequestError(EINVAL, "special watch path too long");
    for (char c : path)
      if (!valid_char(c)) throw RequestError(EINVAL, "invalid special watch path");
    return std::string(path);
  }
  return canonical_path(path, domid);
}

bool is_child(std::string_view child, std::string_view parent) {
  if (parent == "/") return child.starts_with('/');
  if (!child.starts_with(parent)) return false;
  return child.size() == parent.size() || child[parent.size()] == '/';
}

std::string_view parent_of(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return "/";
  return path.substr(0, slash);
}

std::string_view basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string join(std::string_view path, std::string_view name) {
  std::string out(path);
  if (out != "/") out += '/';
  out += name;
  return out;
}

DomId parse_domid(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value > 0xFFFF)
    throw RequestError(EINVAL, "invalid domain id '" + std::string(text.substr(0, 16)) + "'");
  return static_cast<DomId>(value);
}

}  // namespace pv::xenstore
