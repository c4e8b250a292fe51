// Splitting request payloads into their arguments (xenstore.txt notation:
// "<path>|" is a NUL-terminated string, "<value|>" raw bytes). Malformed
// payloads throw RequestError(EINVAL).
#pragma once
#include <string_view>
#include <utility>
#include <vector>

namespace pv::xenstore {

// The NUL-terminated string the payload starts with: "<arg>|...".
std::string_view first_arg(std::string_view payload);

// Exactly one NUL-terminated string: "<arg>|".
std::string_view single_arg(std::string_view payload);

// One or more NUL-terminated strings: "<a>|<b>|...". Fails if the payload
// does not end with NUL or has fewer than `min_count` strings.
std::vector<std::string_view> string_args(std::string_view payload, size_t min_count);

// "<path>|<value|>": a NUL-terminated path, then raw bytes.
std::pair<std::string_view, std::string_view> path_and_value(std::string_view payload);

// A NUL-terminated list for a reply: "a\0b\0".
std::string nul_joined(const std::vector<std::string>& items);

}  // namespace pv::xenstore
