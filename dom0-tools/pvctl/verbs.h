// pvctl's verbs as tables, the way xl keeps its cmdtable: each verb has a
// name, a handler and its usage, and everything pvctl prints about verbs
// (the listing of `pvctl help`, `pvctl help VERB`, `pvctl VERB --help`) is
// made from the table. A verb may stand for a group of sub-verbs
// (`pvctl network create ...`), dispatched the same way.
#pragma once
#include <getopt.h>

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pv::pvctl {

// What every verb gets besides its words.
struct Context {
  std::string socket;  // pvd's admin socket
};

// `args` are the words after the verb. Returns pvctl's exit status (0 done,
// 1 pvd refused, 2 usage, 3 pvd unreachable).
using Handler = int (*)(const std::vector<std::string>& args, const Context& ctx);

struct VerbSet;

struct Verb {
  std::string_view name;
  Handler handler;             // nullptr when `group` dispatches instead
  std::string_view synopsis;   // "create FILE" (continuation lines start with spaces)
  std::string_view help;       // what it does; the first line goes in the listing
  const VerbSet* group = nullptr;
};

struct VerbSet {
  std::string_view path;    // "" for pvctl's own verbs, "network" for its sub-verbs
  std::span<const Verb> verbs;
  std::string_view footer;  // printed under the listing
};

// Runs the verb args[0] names with the words after it. No words: the
// listing on stderr (2). "help" or --help: the listing; "help VERB" and
// "VERB --help": that verb's usage (0). An unknown verb is a usage error.
int dispatch(const VerbSet& set, const std::vector<std::string>& args, const Context& ctx);

// Options of one verb, read with getopt_long: "--opt value" and
// "--opt=value" alike, up to the first word that is not an option (or
// "--"). `short_options` are getopt's one-letter ones ("aw" for -a -w,
// whose `val` is that letter). `on_option(val, optarg)` gets each option's
// `val`. Returns the remaining words, or fills `error` ("unknown option
// '--x'", "--x needs a value").
std::vector<std::string> parse_options(const std::vector<std::string>& args, const std::vector<option>& options,
                                       const std::function<void(int, const char*)>& on_option, std::string& error,
                                       const std::string& short_options = "");

// A --timeout S value of 1 to 600 seconds (save, snapshot-create,
// migrate) into `seconds`; else sets `error`.
void parse_timeout_seconds(const char* value, unsigned long& seconds, std::string& error);

// The words of a listing verb: `--json` or nothing. False for anything else.
bool parse_json_flag(const std::vector<std::string>& args, bool& json);

// A usage error: "pvctl: WHY" on stderr; returns 2, its exit status.
int usage_error(const std::string& why);

// A size for people, in binary units as qemu-img prints them: "512 B",
// "196 KiB", "8 GiB", "1.5 GiB".
std::string size_text(uint64_t bytes);

}  // namespace pv::pvctl
