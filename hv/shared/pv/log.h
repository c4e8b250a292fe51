// The one logger of the host daemons (pv-hv, pv-backd, pvd, xenstored).
//
// A line is "<program>: [<level>: ]<message>\n", written to standard error
// with one write(2), so lines from several threads (and from the processes
// that share a log file, each opened O_APPEND) never interleave. Errors and
// warnings are tagged ("pvd: error: ..."), information is not, as xl and
// the Xen daemons print. Message bytes a terminal or a log reader should
// not get (NUL, other control characters, DEL) are written as \xNN, so a
// guest-chosen string (a xenstore path, a device name) cannot put a NUL or
// an escape sequence into a log file.
//
//   pv::log::init("pv-backd");          // once, in main()
//   pv::log::info("serving (pid " + std::to_string(getpid()) + ")");
//   pv::log::error(dev + ": " + e.what());
//   if (pv::log::enabled(pv::log::Level::kDebug)) pv::log::debug(...);
#pragma once
#include <string>
#include <string_view>

namespace pv::log {

enum class Level { kError, kWarning, kInfo, kDebug };

// Names the program for the prefix and sets the most verbose level written
// (default kInfo). Call before any thread logs.
void init(std::string_view program, Level max_level = Level::kInfo);
void set_level(Level max_level);
bool enabled(Level level);

void write(Level level, std::string_view message);
inline void error(std::string_view message) { write(Level::kError, message); }
inline void warning(std::string_view message) { write(Level::kWarning, message); }
inline void info(std::string_view message) { write(Level::kInfo, message); }
inline void debug(std::string_view message) { write(Level::kDebug, message); }

// The line write() would emit (without the newline); for tests.
std::string format(Level level, std::string_view message);

}  // namespace pv::log
