#include "config/xl_syntax.h"

#include <cstdio>
#include <map>
#include <optional>

namespace pv::config {

namespace {

enum class Tok { kWord, kString, kLBracket, kRBracket, kComma, kAssign, kAppend, kSemi, kNewline, kEnd, kBad };

struct Token {
  Tok kind;
  std::string text;  // Word: as written; String: dequoted; Bad: the message
  int line;
};

bool is_word_char(char c) {
  switch (c) {
    case ' ': case '\t': case '\r': case '\n': case ',': case ';': case '[': case ']':
    case '=': case '#': case '\'': case '"':
      return false;
    default:
      return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  }
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

std::string printable(char c) {
  char buf[8];
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
    std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
  else
    std::snprintf(buf, sizeof buf, "%c", c);
  return buf;
}

// Splits the text into tokens. Errors become Bad tokens so the parser can
// report them with the key they belong to and recover at the next line.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  std::vector<Token> run() {
    std::vector<Token> out;
    for (;;) {
      Token t = next();
      out.push_back(t);
      if (t.kind == Tok::kEnd) return out;
    }
  }

 private:
  Token next() {
    for (;;) {
      if (i_ >= s_.size()) return {Tok::kEnd, "", line_};
      char c = s_[i_];
      if (c == ' ' || c == '\t') { i_++; continue; }
      if (c == '\r' && i_ + 1 < s_.size() && s_[i_ + 1] == '\n') { i_++; continue; }
      if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') i_++;
        continue;  // the '\n' (if any) is the statement end
      }
      break;
    }
    const int line = line_;
    char c = s_[i_];
    switch (c) {
      case '\n': i_++; line_++; return {Tok::kNewline, "", line};
      case '[': i_++; return {Tok::kLBracket, "[", line};
      case ']': i_++; return {Tok::kRBracket, "]", line};
      case ',': i_++; return {Tok::kComma, ",", line};
      case ';': i_++; return {Tok::kSemi, ";", line};
      case '=': i_++; return {Tok::kAssign, "=", line};
      case '"': case '\'': return string_token(c);
      default: break;
    }
    if (c == '+' && i_ + 1 < s_.size() && s_[i_ + 1] == '=') {
      i_ += 2;
      return {Tok::kAppend, "+=", line};
    }
    if (!is_word_char(c)) {
      i_++;
      return {Tok::kBad, "unexpected character '" + printable(c) + "'", line};
    }
    size_t start = i_;
    while (i_ < s_.size() && is_word_char(s_[i_]) &&
           !(s_[i_] == '+' && i_ + 1 < s_.size() && s_[i_ + 1] == '='))
      i_++;
    return {Tok::kWord, std::string(s_.substr(start, i_ - start)), line};
  }

  Token string_token(char quote) {
    const int line = line_;
    std::string out;
    i_++;  // opening quote
    for (;;) {
      if (i_ >= s_.size() || s_[i_] == '\n')
        return {Tok::kBad, "unterminated string: a quoted string must end on the line it starts", line};
      char c = s_[i_++];
      if (c == quote) return {Tok::kString, out, line};
      if (c == '\0') return skip_bad_string(quote, "a NUL byte is not allowed in a string", line);
      if (c != '\\') { out += c; continue; }
      if (i_ >= s_.size() || s_[i_] == '\n')
        return {Tok::kBad, "unterminated string: a quoted string must end on the line it starts", line};
      char e = s_[i_++];
      switch (e) {
        case '"': case '\'': case '\\': out += e; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': {
          if (i_ + 1 >= s_.size() || !is_hex(s_[i_]) || !is_hex(s_[i_ + 1]))
            return skip_bad_string(quote, "\\x must be followed by two hex digits", line);
          int v = hex_value(s_[i_]) * 16 + hex_value(s_[i_ + 1]);
          i_ += 2;
          if (v == 0) return skip_bad_string(quote, "a NUL byte is not allowed in a string", line);
          out += static_cast<char>(v);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int n = 1; n < 3 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; n++)
              v = v * 8 + (s_[i_++] - '0');
            if (v == 0 || v > 0xff)
              return skip_bad_string(quote, "octal escape must be between \\001 and \\377", line);
            out += static_cast<char>(v);
            break;
          }
          return skip_bad_string(quote,
                                 std::string("invalid escape '\\") + printable(e) +
                                     "' in string (use \\\\ for a backslash)",
                                 line);
      }
    }
  }

  // After an error inside a string, skip to its closing quote (or line end).
  Token skip_bad_string(char quote, std::string msg, int line) {
    while (i_ < s_.size() && s_[i_] != '\n') {
      char c = s_[i_++];
      if (c == '\\' && i_ < s_.size() && s_[i_] != '\n') { i_++; continue; }
      if (c == quote) break;
    }
    return {Tok::kBad, std::move(msg), line};
  }

  std::string_view s_;
  size_t i_ = 0;
  int line_ = 1;
};

bool valid_key(const std::string& w) {
  if (w.empty() || !(w[0] >= 'a' && w[0] <= 'z')) return false;
  for (char c : w)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) return false;
  return true;
}

// xl's NUMBER token: [0-9][0-9a-fx]*
bool valid_bare_number(const std::string& w) {
  if (w.empty() || !(w[0] >= '0' && w[0] <= '9')) return false;
  for (char c : w)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == 'x')) return false;
  return true;
}

struct StatementError {
  int line;
  std::string message;
};

class Parser {
 public:
  Parser(std::vector<Token> toks, const std::string& file) : t_(std::move(toks)), file_(file) {}

  SyntaxResult run() {
    while (peek().kind != Tok::kEnd) {
      if (peek().kind == Tok::kNewline || peek().kind == Tok::kSemi) { pos_++; continue; }
      statement();
    }
    return std::move(r_);
  }

 private:
  const Token& peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < t_.size() ? t_[i] : t_.back();
  }

  void error(int line, const std::string& key, std::string msg) {
    r_.errors.push_back({file_, line, key, std::move(msg)});
  }

  // Skips to the start of the next line that looks like "key =" (or the end),
  // so one mistake (say, an unclosed list) yields one error, not a cascade.
  void recover() {
    while (peek().kind != Tok::kEnd) {
      if (peek().kind == Tok::kNewline && peek(1).kind == Tok::kWord &&
          (peek(2).kind == Tok::kAssign || peek(2).kind == Tok::kAppend)) {
        pos_++;
        return;
      }
      pos_++;
    }
  }

  void statement() {
    const Token& k = peek();
    if (k.kind != Tok::kWord) {
      if (k.kind == Tok::kBad)
        error(k.line, "", k.text);
      else
        error(k.line, "", "expected KEY = VALUE, found '" + k.text + "'");
      recover();
      return;
    }
    std::string key = k.text;
    int line = k.line;
    if (!valid_key(key)) {
      error(line, "", "invalid key name '" + key +
                          "': keys are lower-case letters, digits, '_' and '.', starting with a letter");
      recover();
      return;
    }
    pos_++;
    bool append = false;
    if (peek().kind == Tok::kAppend) {
      append = true;
    } else if (peek().kind != Tok::kAssign) {
      error(line, key, "expected '=' after the key");
      recover();
      return;
    }
    pos_++;
    if (peek().kind == Tok::kNewline || peek().kind == Tok::kEnd || peek().kind == Tok::kSemi) {
      error(line, key, "missing value after '='");
      recover();
      return;
    }
    std::optional<StatementError> err;
    Value v = value(err);
    if (!err && peek().kind != Tok::kNewline && peek().kind != Tok::kSemi && peek().kind != Tok::kEnd) {
      const Token& extra = peek();
      err = StatementError{extra.line, extra.kind == Tok::kBad
                                           ? extra.text
                                           : "unexpected '" + extra.text +
                                                 "' after the value (one value per key; separate "
                                                 "settings with a newline or ';')"};
    }
    if (err) {
      error(err->line, key, err->message);
      recover();
      return;
    }
    store(key, std::move(v), line, append);
  }

  Value value(std::optional<StatementError>& err) {
    const Token& t = peek();
    Value v;
    v.line = t.line;
    switch (t.kind) {
      case Tok::kString:
        v.text = t.text;
        v.quoted = true;
        pos_++;
        return v;
      case Tok::kWord:
        if (!valid_bare_number(t.text)) {
          err = StatementError{t.line, "unquoted value '" + t.text +
                                           "': put strings in quotes (\"...\" or '...'); numbers "
                                           "are decimal, 0x hex or 0 octal"};
          return v;
        }
        v.text = t.text;
        pos_++;
        return v;
      case Tok::kLBracket:
        if (depth_ >= kMaxListDepth) {
          err = StatementError{t.line, "lists nested more than " + std::to_string(kMaxListDepth) + " deep"};
          return v;
        }
        pos_++;
        depth_++;
        v = list(v, err);
        depth_--;
        return v;
      case Tok::kBad:
        err = StatementError{t.line, t.text};
        return v;
      default:
        err = StatementError{t.line, "expected a value, found '" + t.text + "'"};
        return v;
    }
  }

  Value list(Value v, std::optional<StatementError>& err) {
    v.kind = Value::Kind::kList;
    skip_newlines();
    if (peek().kind == Tok::kRBracket) { pos_++; return v; }
    for (;;) {
      if (peek().kind == Tok::kEnd) {
        err = StatementError{v.line, "list opened with '[' here is never closed with ']'"};
        return v;
      }
      v.items.push_back(value(err));
      if (err) return v;
      skip_newlines();
      const Token& t = peek();
      if (t.kind == Tok::kRBracket) { pos_++; return v; }
      if (t.kind == Tok::kComma) {
        pos_++;
        skip_newlines();
        if (peek().kind == Tok::kRBracket) { pos_++; return v; }  // trailing comma
        continue;
      }
      if (t.kind == Tok::kEnd) {
        err = StatementError{v.line, "list opened with '[' here is never closed with ']'"};
      } else if (t.kind == Tok::kBad) {
        err = StatementError{t.line, t.text};
      } else {
        err = StatementError{t.line, "expected ',' or ']' in list, found '" + t.text + "'"};
      }
      return v;
    }
  }

  void skip_newlines() {
    while (peek().kind == Tok::kNewline) pos_++;
  }

  void store(const std::string& key, Value v, int line, bool append) {
    auto it = index_.find(key);
    if (it == index_.end()) {
      // xl: '+=' with no earlier value is a plain assignment.
      index_[key] = r_.settings.size();
      r_.settings.push_back({key, std::move(v), line, append});
      return;
    }
    Setting& s = r_.settings[it->second];
    if (!append) {
      r_.warnings.push_back({file_, line, key,
                             "set again (first on line " + std::to_string(s.line) +
                                 "); the last value wins"});
      s.value = std::move(v);
      s.line = line;
      s.appended = false;
      return;
    }
    if (s.value.kind != v.kind) {
      error(line, key, "'+=' cannot add a list to a string or a string to a list");
      return;
    }
    if (v.is_string()) {
      s.value.text += v.text;
      s.value.quoted = s.value.quoted || v.quoted;
    } else {
      for (auto& item : v.items) s.value.items.push_back(std::move(item));
    }
    s.line = line;
    s.appended = true;
  }

  static constexpr int kMaxListDepth = 8;  // xl nests at most two deep (vnuma); bounds recursion

  std::vector<Token> t_;
  size_t pos_ = 0;
  int depth_ = 0;
  const std::string& file_;
  SyntaxResult r_;
  std::map<std::string, size_t> index_;
};

}  // namespace

const Setting* SyntaxResult::find(std::string_view key) const {
  for (const auto& s : settings)
    if (s.key == key) return &s;
  return nullptr;
}

SyntaxResult parse_xl_syntax(std::string_view text, const std::string& file) {
  Parser p(Lexer(text).run(), file);
  return p.run();
}

std::string quote_xl_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace pv::config
