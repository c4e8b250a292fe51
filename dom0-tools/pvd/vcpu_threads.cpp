#include "vcpu_threads.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <sstream>

#include "pv/files.h"

namespace pv::pvd {
namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "vcpuN" -> N.
std::optional<uint32_t> vcpu_number(const std::string& comm) {
  if (comm.rfind("vcpu", 0) != 0 || comm.size() == 4) return std::nullopt;
  uint32_t n = 0;
  const char* end = comm.data() + comm.size();
  auto [p, ec] = std::from_chars(comm.data() + 4, end, n);
  if (ec != std::errc() || p != end) return std::nullopt;
  return n;
}

bool parse_int(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

std::vector<VcpuThread> vcpu_threads(pid_t pid) {
  std::vector<VcpuThread> out;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(task, ec)) {
    const auto n = vcpu_number(trim(read_file(e.path().string() + "/comm")));
    if (!n) continue;
    VcpuThread v;
    v.vcpu = *n;
    v.tid = static_cast<pid_t>(std::stol(e.path().filename().string()));
    // stat: "TID (comm) S ..." : state is field 3, utime/stime 14/15, processor 39.
    const std::string stat = read_file(e.path().string() + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;  // the thread went meanwhile
    std::istringstream rest(stat.substr(paren + 2));
    std::vector<std::string> f{"", "", ""};  // fields 1 and 2 are before the ')'
    for (std::string w; rest >> w;) f.push_back(w);
    if (f.size() < 40) continue;
    const char s = f[3].empty() ? '?' : f[3][0];
    v.state = s == 'R' ? 'r' : (s == 'T' || s == 't') ? 'p' : 'b';
    static const double ticks = double(::sysconf(_SC_CLK_TCK));
    v.cpu_seconds = (std::stod(f[14]) + std::stod(f[15])) / ticks;
    parse_int(f[39], v.cpu);
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(v.tid, sizeof set, &set) == 0)
      for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) v.affinity.push_back(c);
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const VcpuThread& a, const VcpuThread& b) { return a.vcpu < b.vcpu; });
  return out;
}

std::optional<std::vector<int>> parse_cpu_list(const std::string& text, int ncpus, std::string* why) {
  auto fail = [&](const std::string& m) -> std::optional<std::vector<int>> {
    if (why) *why = m;
    return std::nullopt;
  };
  if (ncpus <= 0) return fail("no host CPUs");
  std::vector<bool> in(size_t(ncpus), false);
  if (text == "all") {
    std::vector<int> all(static_cast<size_t>(ncpus));
    for (int c = 0; c < ncpus; c++) all[size_t(c)] = c;
    return all;
  }
  if (text.empty()) return fail("an empty CPU list");
  std::istringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    const bool remove = !part.empty() && part[0] == '^';
    std::string_view range = std::string_view(part).substr(remove ? 1 : 0);
    const size_t dash = range.find('-');
    int lo = 0, hi = 0;
    if (!parse_int(range.substr(0, dash), lo) ||
        (dash != std::string_view::npos ? !parse_int(range.substr(dash + 1), hi) : (hi = lo, false)))
      return fail("'" + part + "' is not a CPU or a range of CPUs (as in 0-3,6,^2)");
    if (lo < 0 || hi < lo) return fail("'" + part + "' is not a range of CPUs");
    if (hi >= ncpus) return fail("CPU " + std::to_string(hi) + " does not exist (this host has " + std::to_string(ncpus) + ")");
    for (int c = lo; c <= hi; c++) in[size_t(c)] = !remove;
  }
  std::vector<int> out;
  for (int c = 0; c < ncpus; c++)
    if (in[size_t(c)]) out.push_back(c);
  if (out.empty()) return fail("'" + text + "' leaves no CPU to run on");
  return out;
}

std::string format_cpu_list(const std::vector<int>& cpus, int ncpus) {
  if (int(cpus.size()) == ncpus && ncpus > 0) return "all";
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) j++;
    out += (out.empty() ? "" : ",") + std::to_string(cpus[i]);
    if (j > i) out += "-" + std::to_string(cpus[j]);
    i = j + 1;
  }
  return out;
}

int pin_thread(pid_t tid, const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  return ::sched_setaffinity(tid, sizeof set, &set) == 0 ? 0 : errno;
}

}  // namespace pv::pvd
