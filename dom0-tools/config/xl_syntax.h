// The xl.cfg file syntax, without meaning: KEY = VALUE settings.
//
// Facts carried over from xl (tools/libs/util/libxlu_cfg_l.l, libxlu_cfg_y.y,
// libxlu_cfg.c):
//  - a key is [a-z][._0-9a-z]*; '=' assigns, '+=' appends to an earlier value
//    of the same key (string to string, list to list);
//  - a value is a "string" or 'string' (one line, C-like escapes), a bare
//    number [0-9][0-9a-fx]* (kept as text: decimal, 0x hex or 0 octal), or a
//    list [ v, v, ... ] whose items may be lists, which may span lines, may
//    end with a trailing comma, and may be empty;
//  - settings end at a newline or ';'; '#' starts a comment to end of line;
//  - a key given twice: the last one wins.
// Ours, stricter or kinder than xl, and documented in README.md: CRLF line
// ends are accepted, a final line without '\n' may be a comment, NUL bytes are
// refused, and a key given twice with '=' earns a warning.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"

namespace pv::config {

struct Value {
  enum class Kind { kString, kList };
  Kind kind = Kind::kString;
  std::string text;          // String: dequoted text, or a bare number as written
  bool quoted = false;       // String: true if written in quotes
  std::vector<Value> items;  // List: the items, in order
  int line = 0;              // line where this value starts

  bool is_string() const { return kind == Kind::kString; }
  bool is_list() const { return kind == Kind::kList; }
};

struct Setting {
  std::string key;
  Value value;
  int line = 0;          // line of the (last) assignment that produced this value
  bool appended = false;  // the last assignment was '+=' (xl refuses that for numbers)
};

struct SyntaxResult {
  std::vector<Setting> settings;  // one per key, final value, in order of first appearance
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;

  const Setting* find(std::string_view key) const;
};

// Parses a whole file's text. `file` is only used to label diagnostics.
SyntaxResult parse_xl_syntax(std::string_view text, const std::string& file);

// Quotes a string so that parse_xl_syntax reads back exactly `s`.
std::string quote_xl_string(std::string_view s);

}  // namespace pv::config
