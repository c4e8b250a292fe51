#include "admin_utf8.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <cstdio>

namespace pv::admin {
namespace gp = google::protobuf;
using WFL = gp::internal::WireFormatLite;

namespace {

// Length of the well-formed sequence at s[i], or 0.
size_t sequence_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto cont = [&](size_t k) { return i + k < s.size() && (b(k) & 0xc0) == 0x80; };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;  // overlong
    if (c == 0xed && b(1) > 0x9f) return 0;  // a surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xf4 && b(1) > 0x8f) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;
}

bool is_string(const gp::FieldDescriptor& f) { return f.type() == gp::FieldDescriptor::TYPE_STRING; }
bool is_message(const gp::FieldDescriptor& f) { return f.type() == gp::FieldDescriptor::TYPE_MESSAGE; }

}  // namespace

std::optional<size_t> first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence_length(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::nullopt;
}

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence_length(s, i);
    if (n == 0) {
      out += "\xef\xbf\xbd";  // U+FFFD
      i++;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string escape_bytes(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out;
}

std::string invalid_utf8_field(const gp::Message& message) {
  const gp::Reflection& r = *message.GetReflection();
  std::vector<const gp::FieldDescriptor*> fields;
  r.ListFields(message, &fields);
  std::string scratch;
  for (const auto* f : fields) {
    const int n = f->is_repeated() ? r.FieldSize(message, f) : 1;
    for (int i = 0; i < n; i++) {
      if (is_string(*f)) {
        const std::string& v = f->is_repeated() ? r.GetRepeatedStringReference(message, f, i, &scratch)
                                                : r.GetStringReference(message, f, &scratch);
        if (!is_valid_utf8(v)) return f->full_name();
      } else if (is_message(*f)) {
        const gp::Message& m = f->is_repeated() ? r.GetRepeatedMessage(message, f, i) : r.GetMessage(message, f);
        if (std::string bad = invalid_utf8_field(m); !bad.empty()) return bad;
      }
    }
  }
  return "";
}

std::string invalid_utf8_field(const gp::Descriptor& type, std::string_view wire) {
  gp::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(wire.data()), static_cast<int>(wire.size()));
  for (uint32_t tag; (tag = in.ReadTag()) != 0;) {
    const gp::FieldDescriptor* f = type.FindFieldByNumber(static_cast<int>(WFL::GetTagFieldNumber(tag)));
    if (!f || WFL::GetTagWireType(tag) != WFL::WIRETYPE_LENGTH_DELIMITED || !(is_string(*f) || is_message(*f))) {
      if (!WFL::SkipField(&in, tag)) return "";
      continue;
    }
    uint32_t length = 0;
    std::string bytes;
    if (!in.ReadVarint32(&length) || !in.ReadString(&bytes, static_cast<int>(length))) return "";
    if (is_string(*f) && !is_valid_utf8(bytes)) return f->full_name();
    if (is_message(*f))
      if (std::string bad = invalid_utf8_field(*f->message_type(), bytes); !bad.empty()) return bad;
  }
  return "";
}

size_t make_strings_valid(gp::Message& message) {
  const gp::Reflection& r = *message.GetReflection();
  std::vector<const gp::FieldDescriptor*> fields;
  r.ListFields(message, &fields);
  size_t changed = 0;
  for (const auto* f : fields) {
    const int n = f->is_repeated() ? r.FieldSize(message, f) : 1;
    for (int i = 0; i < n; i++) {
      if (is_string(*f)) {
        std::string v = f->is_repeated() ? r.GetRepeatedString(message, f, i) : r.GetString(message, f);
        if (is_valid_utf8(v)) continue;
        changed++;
        if (f->is_repeated()) r.SetRepeatedString(&message, f, i, to_valid_utf8(v));
        else r.SetString(&message, f, to_valid_utf8(v));
      } else if (is_message(*f)) {
        changed += make_strings_valid(f->is_repeated() ? *r.MutableRepeatedMessage(&message, f, i)
                                                       : *r.MutableMessage(&message, f));
      }
    }
  }
  return changed;
}

}  // namespace pv::admin
