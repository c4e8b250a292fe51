// UTF-8 on the admin socket. proto3 `string` fields must hold UTF-8, and
// the C++ runtime (protobuf 3.21) enforces it only on one side: a message
// with invalid bytes in a string field serializes (with an error logged)
// but fails to parse. So each side checks what it sends and what it gets:
// pvctl refuses to send a request with a bad string, pvd answers one with
// ERROR_BAD_REQUEST naming the field, and pvd replaces bad bytes in what it
// sends (a guest-written reason, an old record) so its reply always parses.
#pragma once
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace pv::admin {

// Offset of the first byte that does not start or continue a well-formed
// UTF-8 sequence (overlong forms, surrogates and values past U+10FFFF are
// refused, as protobuf does), or nullopt when `s` is valid.
std::optional<size_t> first_invalid_utf8(std::string_view s);
inline bool is_valid_utf8(std::string_view s) { return !first_invalid_utf8(s); }

// `s` with each invalid byte replaced by U+FFFD.
std::string to_valid_utf8(std::string_view s);

// `s` for a message: printable ASCII as it is, every other byte as \xNN.
std::string escape_bytes(std::string_view s);

// The full name of the first string field of `message` (nested messages
// included) that is not valid UTF-8, or "".
std::string invalid_utf8_field(const google::protobuf::Message& message);

// The same, for a message of type `type` still in wire format (one that
// failed to parse): "" when no string field in it is invalid UTF-8 (then
// the bytes are malformed some other way).
std::string invalid_utf8_field(const google::protobuf::Descriptor& type, std::string_view wire);

// Replaces invalid bytes in every string field of `message` (see
// to_valid_utf8); the number of fields it changed.
size_t make_strings_valid(google::protobuf::Message& message);

}  // namespace pv::admin
