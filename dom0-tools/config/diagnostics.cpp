#include "config/diagnostics.h"

namespace pv::config {

std::string Diagnostic::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  if (!s.empty()) s += ": ";
  if (!key.empty()) s += key + ": ";
  s += message;
  return s;
}

namespace {
std::string join(const std::vector<Diagnostic>& errors) {
  std::string s;
  for (const auto& e : errors) {
    if (!s.empty()) s += '\n';
    s += e.to_string();
  }
  return s.empty() ? std::string("invalid domain config") : s;
}
}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> errors)
    : std::runtime_error(join(errors)), errors_(std::move(errors)) {}

}  // namespace pv::config
