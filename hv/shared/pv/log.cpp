#include "pv/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

namespace pv::log {
namespace {

// Set once by init() before threads start; read by every thread after.
std::string g_program = "pv";
std::atomic<int> g_max_level{static_cast<int>(Level::kInfo)};

const char* tag(Level level) {
  switch (level) {
    case Level::kError: return "error: ";
    case Level::kWarning: return "warning: ";
    case Level::kInfo: return "";
    case Level::kDebug: return "debug: ";
  }
  return "";
}

void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
}

}  // namespace

void init(std::string_view program, Level max_level) {
  g_program = program;
  set_level(max_level);
}

void set_level(Level max_level) { g_max_level.store(static_cast<int>(max_level), std::memory_order_relaxed); }

bool enabled(Level level) { return static_cast<int>(level) <= g_max_level.load(std::memory_order_relaxed); }

std::string format(Level level, std::string_view message) {
  std::string line;
  line.reserve(g_program.size() + message.size() + 16);
  line += g_program;
  line += ": ";
  line += tag(level);
  append_escaped(line, message);
  return line;
}

void write(Level level, std::string_view message) {
  if (!enabled(level)) return;
  std::string line = format(level, message);
  line += '\n';
  // One write per line; a short write (a full pipe) finishes the line.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // nowhere to report that logging failed
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace pv::log
