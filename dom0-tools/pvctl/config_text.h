// What pvctl does to a configuration file before `create` sends it:
// - the text must be UTF-8 (the admin API carries only UTF-8 strings);
// - relative paths in it (kernel, ramdisk, each disk's target) are made
//   absolute against the directory of the configuration file, so a file
//   works from any working directory (xl would use its own working
//   directory instead). Only the values are rewritten: every other line,
//   and so every line number pvd's messages name, stays as it was.
#pragma once
#include <string>
#include <vector>

namespace pv::pvctl {

struct PreparedConfig {
  std::string text;                   // to send
  std::vector<std::string> resolved;  // "kernel: guest.elf -> /abs/guest.elf", one per path made absolute
  std::string error;                  // "guest.cfg:3: ..." when it cannot be sent
};

// `text` was read from `path` (as the user named it). A text that does not
// parse as a domain configuration is returned as it is: pvd says what is
// wrong with it.
PreparedConfig prepare_config(const std::string& text, const std::string& path);

}  // namespace pv::pvctl
