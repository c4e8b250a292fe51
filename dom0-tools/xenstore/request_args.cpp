#include "xenstore/request_args.h"

#include <cerrno>
#include <string>

#include "xenstore/errors.h"

namespace pv::xenstore {

std::string_view single_arg(std::string_view payload) {
  if (payload.empty() || payload.back() != '\0')
    throw RequestError(EINVAL, "argument is not NUL-terminated");
  payload.remove_suffix(1);
  if (payload.find('\0') != std::string_view::npos) throw RequestError(EINVAL, "expected exactly one argument");
  return payload;
}

std::vector<std::string_view> string_args(std::string_view payload, size_t min_count) {
  if (payload.empty() || payload.back() != '\0')
    throw RequestError(EINVAL, "arguments are not NUL-terminated");
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < payload.size()) {
    size_t nul = payload.find('\0', start);
    out.push_back(payload.substr(start, nul - start));
    start = nul + 1;
  }
  if (out.size() < min_count)
    throw RequestError(EINVAL, "expected " + std::to_string(min_count) + " arguments, got " +
                              std::to_string(out.size()));
  return out;
}

std::string_view first_arg(std::string_view payload) {
  size_t nul = payload.find('\0');
  if (nul == std::string_view::npos) throw RequestError(EINVAL, "path is not NUL-terminated");
  return payload.substr(0, nul);
}

std::pair<std::string_view, std::string_view> path_and_value(std::string_view payload) {
  std::string_view first = first_arg(payload);
  return {first, payload.substr(first.size() + 1)};
}

std::string nul_joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += item;
    out += '\0';
  }
  return out;
}

}  // namespace pv::xenstore
