#include "config_text.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "admin_utf8.h"
#include "config/disk_spec.h"
#include "config/domain_config.h"
#include "config/xl_syntax.h"

namespace pv::pvctl {
namespace fs = std::filesystem;
namespace C = pv::config;

namespace {

// "FILE:LINE:COLUMN: not valid UTF-8 ..." for the first bad byte, or "".
std::string utf8_error(const std::string& text, const std::string& path) {
  const auto bad = admin::first_invalid_utf8(text);
  if (!bad) return "";
  const size_t line_start = text.rfind('\n', *bad) == std::string::npos ? 0 : text.rfind('\n', *bad) + 1;
  const size_t line_end = text.find('\n', *bad);
  const std::string line = text.substr(line_start, line_end == std::string::npos ? std::string::npos : line_end - line_start);
  const size_t line_no = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<long>(*bad), '\n'));
  return path + ":" + std::to_string(line_no) + ": not valid UTF-8 (byte " +
         admin::escape_bytes(text.substr(*bad, 1)) + " at column " + std::to_string(*bad - line_start + 1) +
         " of \"" + admin::escape_bytes(line) + "\"); names, paths and configurations must be UTF-8";
}

// Replaces the one quoted literal on `line` that reads as `value` with
// `replacement` (already quoted); false when there is not exactly one.
bool replace_literal(std::string& line, const std::string& value, const std::string& replacement) {
  std::optional<size_t> at;
  size_t length = 0;
  for (const char q : {'"', '\''}) {
    const std::string literal = q + value + q;
    for (size_t pos = line.find(literal); pos != std::string::npos; pos = line.find(literal, pos + 1)) {
      if (at) return false;
      at = pos;
      length = literal.size();
    }
  }
  if (!at) return false;
  line.replace(*at, length, replacement);
  return true;
}

class Resolver {
 public:
  Resolver(const std::string& text, const std::string& path) : path_(path) {
    base_ = fs::absolute(fs::path(path)).lexically_normal().parent_path();
    for (size_t start = 0; start < text.size();) {
      const size_t nl = text.find('\n', start);
      const size_t end = nl == std::string::npos ? text.size() : nl + 1;
      lines_.push_back(text.substr(start, end - start));
      start = end;
    }
  }

  // A relative string setting (kernel, ramdisk) made absolute.
  void setting(const C::SyntaxResult& syn, const char* key) {
    const C::Setting* s = syn.find(key);
    if (!s || !s->value.is_string() || s->value.text.empty() || fs::path(s->value.text).is_absolute()) return;
    const std::string abs = absolute(s->value.text);
    rewrite(s->value.line, key, s->value.text, C::quote_xl_string(abs), s->value.text + " -> " + abs);
  }

  // Each disk whose target is a relative path, written again with it absolute.
  void disks(const C::SyntaxResult& syn) {
    const C::Setting* s = syn.find("disk");
    if (!s || !s->value.is_list()) return;
    for (size_t i = 0; i < s->value.items.size(); i++) {
      const C::Value& item = s->value.items[i];
      auto r = C::parse_disk_spec(item.text);
      if (!item.is_string() || !r.disk || r.disk->target.empty() || !r.disk->script.empty() ||
          fs::path(r.disk->target).is_absolute())
        continue;
      const std::string rel = r.disk->target;
      r.disk->target = absolute(rel);
      rewrite(item.line, "disk[" + std::to_string(i) + "]", item.text, C::quote_xl_string(C::to_spec(*r.disk)),
              "target " + rel + " -> " + r.disk->target);
    }
  }

  std::string text() const {
    std::string out;
    for (const auto& l : lines_) out += l;
    return out;
  }
  const std::vector<std::string>& resolved() const { return resolved_; }
  const std::string& error() const { return error_; }

 private:
  std::string absolute(const std::string& rel) const { return (base_ / rel).lexically_normal().string(); }

  void rewrite(int line, const std::string& key, const std::string& value, const std::string& replacement,
               const std::string& what) {
    if (!error_.empty()) return;
    if (line < 1 || static_cast<size_t>(line) > lines_.size() ||
        !replace_literal(lines_[static_cast<size_t>(line) - 1], value, replacement)) {
      error_ = path_ + ":" + std::to_string(line) + ": " + key + ": cannot make the relative path in " +
               C::quote_xl_string(value) + " absolute (write it as one, or in a plain quoted string)";
      return;
    }
    resolved_.push_back(key + ": " + what);
  }

  std::string path_;
  fs::path base_;
  std::vector<std::string> lines_, resolved_;
  std::string error_;
};

}  // namespace

PreparedConfig prepare_config(const std::string& text, const std::string& path) {
  PreparedConfig out;
  if (out.error = utf8_error(text, path); !out.error.empty()) return out;
  out.text = text;
  const C::ParseResult parsed = C::parse_domain_config(text, path);
  if (!parsed.ok()) return out;  // pvd names every error
  const C::SyntaxResult syn = C::parse_xl_syntax(text, path);
  Resolver r(text, path);
  r.setting(syn, "kernel");
  r.setting(syn, "ramdisk");
  r.disks(syn);
  if (!r.error().empty()) {
    out.error = r.error();
    return out;
  }
  if (r.resolved().empty()) return out;
  // The rewritten file must mean what the original did, but for the paths.
  const C::ParseResult again = C::parse_domain_config(r.text(), path);
  if (!again.ok() || again.config->name != parsed.config->name ||
      again.config->disks.size() != parsed.config->disks.size()) {
    out.error = path + ": cannot make its relative paths absolute; write them as absolute paths";
    return out;
  }
  out.text = r.text();
  out.resolved = r.resolved();
  return out;
}

}  // namespace pv::pvctl
