// Diagnostics for domain config files: where (file, line, key) and what.
//
// Every error a user sees names the file, the line and the key, e.g.
//   guest.cfg:7: memory: expected a number of MiB, got "lots"
// A parse either yields a complete, validated config or errors and no config.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace pv::config {

struct Diagnostic {
  std::string file;     // the name the caller gave the source ("guest.cfg", "<admin-api>")
  int line = 0;         // 1-based; 0 when no single line is to blame (a missing key)
  std::string key;      // "memory", "disk[1]", ...; empty for pure syntax errors
  std::string message;  // what is wrong and, where possible, what to write instead

  // "file:line: key: message" (parts that are absent are left out).
  std::string to_string() const;
  bool operator==(const Diagnostic&) const = default;
};

// All errors of a rejected file, one per line of what(). Thrown only by the
// *_or_throw helpers; the plain parse functions return errors as values.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> errors);
  const std::vector<Diagnostic>& errors() const noexcept { return errors_; }

 private:
  std::vector<Diagnostic> errors_;
};

}  // namespace pv::config
