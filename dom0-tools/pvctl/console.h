// pvctl console: the terminal side of an attached guest console.
#pragma once
#include <string>

namespace pv::pvctl {

// Relays `in_fd` (stdin) to `fd` and `fd` to `out_fd` (stdout) until the
// console closes (the domain ended) or the user types Ctrl-] (detach).
// pv-hv sends the console's history first, then live output. A terminal
// on `in_fd` gets raw input while attached (RawTerminal: a bare "\n" still
// returns the carriage on screen) and is restored afterwards; output that
// is not a terminal gets the guest's bytes unchanged. `early` is output
// that already arrived. Returns pvctl's exit status.
int run_console(int fd, const std::string& early, int in_fd = 0, int out_fd = 1);

}  // namespace pv::pvctl
