// JSON output of pvctl's --json listings. Values are nlohmann::json (it
// escapes the strings and writes the numbers); pvctl lays them out as it
// always has: a list with one object per line, `"key": value` pairs
// separated by ", ".
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace pv::pvctl {

using Json = nlohmann::ordered_json;  // keys stay in the order they are set

// `v` on one line, with a space after every ':' and ','.
inline std::string json_line(const Json& v) {
  if (v.is_object() || v.is_array()) {
    std::string out = v.is_object() ? "{" : "[";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it, first = false) {
      if (!first) out += ", ";
      if (v.is_object()) out += Json(it.key()).dump() + ": ";
      out += json_line(*it);
    }
    return out + (v.is_object() ? "}" : "]");
  }
  // Bytes that are not UTF-8 (a guest-chosen reason string) become U+FFFD
  // instead of failing the listing.
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// "[\n {...},\n {...}\n]\n", or "[]\n" for none.
inline std::string json_list(const std::vector<Json>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); i++) out += (i ? ",\n " : "\n ") + json_line(items[i]);
  return out + (items.empty() ? "]\n" : "\n]\n");
}

}  // namespace pv::pvctl
