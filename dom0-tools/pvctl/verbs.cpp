#include "verbs.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>

namespace pv::pvctl {
namespace {

constexpr size_t kHelpColumn = 21;  // where the listing's descriptions start

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

// "pvctl" or "pvctl network".
std::string command(const VerbSet& set) {
  return set.path.empty() ? "pvctl" : "pvctl " + std::string(set.path);
}

// The verb's rows of the listing: its synopsis, then its help from column
// kHelpColumn (on the synopsis's last line when that leaves room).
std::string listing_entry(const Verb& v) {
  std::string out = "  " + std::string(v.synopsis);
  const size_t last_line = out.size() - (out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  bool first = true;
  for (std::string_view line : lines(v.help)) {
    if (first && last_line < kHelpColumn) out.append(kHelpColumn - last_line, ' ');
    else out += "\n" + std::string(kHelpColumn, ' ');
    out += line;
    first = false;
  }
  return out + "\n";
}

void print_listing(const VerbSet& set, std::FILE* out) {
  std::string text = "usage: " + command(set) + (set.path.empty() ? " [--socket PATH]" : "") + " VERB [ARGS]\n";
  for (const Verb& v : set.verbs) text += listing_entry(v);
  text += set.footer;
  std::fputs(text.c_str(), out);
}

void print_usage(const VerbSet& set, const Verb& v) {
  std::string text = "usage: " + command(set) + " " + std::string(v.synopsis) + "\n";
  for (std::string_view line : lines(v.help)) text += "  " + std::string(line) + "\n";
  std::fputs(text.c_str(), stdout);
}

const Verb* find(const VerbSet& set, std::string_view name) {
  for (const Verb& v : set.verbs)
    if (v.name == name) return &v;
  return nullptr;
}

int unknown_verb(const VerbSet& set, const std::string& name) {
  if (set.path.empty()) std::fprintf(stderr, "pvctl: unknown verb '%s' (see pvctl --help)\n", name.c_str());
  else
    std::fprintf(stderr, "pvctl: %s has no verb '%s' (see %s --help)\n", std::string(set.path).c_str(), name.c_str(),
                 command(set).c_str());
  return 2;
}

bool is_help(const std::string& word) { return word == "-h" || word == "--help"; }

// --help among the verb's options (before "--").
bool asks_for_help(const std::vector<std::string>& args) {
  for (const auto& a : args) {
    if (a == "--") return false;
    if (is_help(a)) return true;
  }
  return false;
}

// `help [VERB [SUB-VERB]]`.
int help(const VerbSet& set, const std::vector<std::string>& words) {
  if (words.empty()) return print_listing(set, stdout), 0;
  const Verb* v = find(set, words[0]);
  if (!v) return unknown_verb(set, words[0]);
  if (v->group) return help(*v->group, {words.begin() + 1, words.end()});
  print_usage(set, *v);
  return 0;
}

}  // namespace

int dispatch(const VerbSet& set, const std::vector<std::string>& args, const Context& ctx) {
  if (args.empty()) return print_listing(set, stderr), 2;
  if (is_help(args[0])) return print_listing(set, stdout), 0;
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "help") return help(set, rest);
  const Verb* v = find(set, args[0]);
  if (!v) return unknown_verb(set, args[0]);
  if (v->group) return dispatch(*v->group, rest, ctx);
  if (asks_for_help(rest)) return print_usage(set, *v), 0;
  return v->handler(rest, ctx);
}

void parse_timeout_seconds(const char* v, unsigned long& seconds, std::string& error) {
  char* end = nullptr;
  seconds = std::strtoul(v, &end, 10);
  if (!*v || *end || seconds == 0 || seconds > 600) error = "--timeout takes 1 to 600 seconds, not '" + std::string(v) + "'";
}

std::vector<std::string> parse_options(const std::vector<std::string>& args, const std::vector<option>& options,
                                       const std::function<void(int, const char*)>& on_option, std::string& error,
                                       const std::string& short_options) {
  std::vector<std::string> words = {"pvctl"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::vector<option> table = options;
  table.push_back({nullptr, 0, nullptr, 0});
  // '+': stop at the first word that is not an option; ':': report a
  // missing value as ':' (opterr = 0: the messages are ours).
  opterr = 0;
  optind = 0;  // GNU: start a new scan
  const int argc = static_cast<int>(words.size());
  const std::string optstring = "+:" + short_options;
  for (int c; (c = getopt_long(argc, argv.data(), optstring.c_str(), table.data(), nullptr)) != -1;) {
    const std::string word = argv[optind - 1];
    const std::string name = word.substr(0, word.find('='));
    if (c == '?') {
      // A short option getopt did not know: optopt is the letter.
      const bool is_long = word.rfind("--", 0) == 0 || optopt == 0;
      error = "unknown option '" + (is_long ? name : "-" + std::string(1, static_cast<char>(optopt))) + "'";
      return {};
    }
    if (c == ':') {
      error = name + " needs a value";
      return {};
    }
    on_option(c, optarg);
  }
  return {words.begin() + optind, words.end()};
}

bool parse_json_flag(const std::vector<std::string>& args, bool& json) {
  std::string error;
  json = false;
  const auto rest = parse_options(args, {{"json", no_argument, nullptr, 'j'}}, [&](int, const char*) { json = true; },
                                  error);
  return error.empty() && rest.empty();
}

int usage_error(const std::string& why) {
  std::fprintf(stderr, "pvctl: %s\n", why.c_str());
  return 2;
}

std::string size_text(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(kUnits)) v /= 1024, u++;
  char buf[32];
  if (u == 0 || v >= 100 || v == static_cast<double>(static_cast<uint64_t>(v)))
    std::snprintf(buf, sizeof buf, "%.0f %s", v, kUnits[u]);
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

}  // namespace pv::pvctl
