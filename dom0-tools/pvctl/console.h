// pvctl console: the terminal side of an attached guest console.
#pragma once
#include <string>

namespace pv::pvctl {

// Relays stdin to `fd` and `fd` to stdout until the console closes (the
// domain ended) or the user types Ctrl-] (detach). The terminal is put in
// raw mode while attached and restored afterwards. `early` is output that
// already arrived. Returns pvctl's exit status.
int run_console(int fd, const std::string& early);

}  // namespace pv::pvctl
