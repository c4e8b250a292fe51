#include "top_cmd.h"

#include <getopt.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>

#include "pvd_call.h"
#include "raw_terminal.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {

const char* state_flags(A::DomainState s) {
  switch (s) {
    case A::STATE_RUNNING: return "-----r";
    case A::STATE_PAUSED: return "---p--";
    case A::STATE_SHUTDOWN: return "--s---";
    case A::STATE_CRASHED: return "-c----";
    case A::STATE_DYING: return "d-----";
    default: return "------";
  }
}

struct Sample {
  A::DomainStatsList stats;
  std::chrono::steady_clock::time_point at;
};

int fetch(const Context& ctx, Sample& out) {
  A::Request req;
  req.mutable_top();
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  out.stats = reply.stats();
  out.at = std::chrono::steady_clock::now();
  return 0;
}

// One screen (or batch block): the header and a row per domain, CPU % over
// the interval since `before` (0 for a domain not in it).
std::string render(const Sample& now, const Sample* before) {
  std::map<uint32_t, double> cpu_before;
  if (before)
    for (const auto& d : before->stats.domains()) cpu_before[d.domain().domid()] = d.domain().cpu_time_s();
  const double secs = before ? std::chrono::duration<double>(now.at - before->at).count() : 0;
  const double host_kib = double(now.stats.host_memory_mib()) * 1024;
  char line[512];
  std::snprintf(line, sizeof line, "%10s %6s %10s %6s %10s %6s %10s %5s %4s %10s %10s %4s %8s %8s %10s %10s %7s %8s\n", "NAME",
                "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)", "MAXMEM(k)", "VCPUS", "NETS", "NETTX(k)",
                "NETRX(k)", "VBDS", "VBD_RD", "VBD_WR", "VBD_RSECT", "VBD_WSECT", "VBD_LIM", "VBD_THR");
  std::string out = line;
  for (const auto& s : now.stats.domains()) {
    const auto& d = s.domain();
    double pct = 0;
    if (auto it = cpu_before.find(d.domid()); it != cpu_before.end() && secs > 0)
      pct = 100.0 * (d.cpu_time_s() - it->second) / secs;
    const uint64_t mem_k = d.memory_mib() * 1024;
    std::snprintf(line, sizeof line,
                  "%10.10s %6s %10.0f %6.1f %10llu %6.1f %10llu %5u %4u %10llu %10llu %4u %8llu %8llu %10llu %10llu %7u %8llu\n",
                  d.name().c_str(), state_flags(d.state()), d.cpu_time_s(), pct < 0 ? 0 : pct,
                  static_cast<unsigned long long>(mem_k), host_kib > 0 ? 100.0 * double(mem_k) / host_kib : 0,
                  static_cast<unsigned long long>(s.maxmem_mib() * 1024), d.vcpus(), s.vifs(),
                  static_cast<unsigned long long>(s.net_tx_bytes() / 1024),
                  static_cast<unsigned long long>(s.net_rx_bytes() / 1024), s.vbds(),
                  static_cast<unsigned long long>(s.vbd_reads()), static_cast<unsigned long long>(s.vbd_writes()),
                  static_cast<unsigned long long>(s.vbd_sectors_read()),
                  static_cast<unsigned long long>(s.vbd_sectors_written()), s.vbds_limited(),
                  static_cast<unsigned long long>(s.vbd_throttled()));
    out += line;
  }
  return out;
}

// Waits `delay`; true when the user asked to quit (q on a terminal).
bool wait_or_quit(std::chrono::milliseconds delay, bool interactive) {
  if (!interactive) {
    ::poll(nullptr, 0, int(delay.count()));
    return false;
  }
  pollfd in{0, POLLIN, 0};
  if (::poll(&in, 1, int(delay.count())) <= 0) return false;
  char c = 0;
  return ::read(0, &c, 1) <= 0 || c == 'q' || c == 'Q' || c == 3;
}

}  // namespace

int top_verb(const std::vector<std::string>& args, const Context& ctx) {
  bool batch = false;
  double delay_s = 3;
  long iterations = -1;
  std::string error;
  const auto words = parse_options(
      args,
      {{"batch", no_argument, nullptr, 'b'},
       {"delay", required_argument, nullptr, 'd'},
       {"iterations", required_argument, nullptr, 'i'}},
      [&](int opt, const char* value) {
        char* end = nullptr;
        if (opt == 'b') batch = true;
        else if (opt == 'd') {
          delay_s = std::strtod(value, &end);
          if (*end || !(delay_s >= 0.1 && delay_s <= 3600)) error = "-d/--delay takes seconds from 0.1 to 3600";
        } else if (opt == 'i') {
          iterations = std::strtol(value, &end, 10);
          if (*end || iterations < 1) error = "-i/--iterations takes a number of intervals (1 or more)";
        }
      },
      error, "bd:i:");
  if (error.empty() && !words.empty()) error = "unexpected '" + words.front() + "'";
  if (!error.empty()) return std::fprintf(stderr, "pvctl: top: %s\n", error.c_str()), 2;
  const bool interactive = !batch && ::isatty(1) && ::isatty(0);
  const auto delay = std::chrono::milliseconds(long(delay_s * 1000));

  // Keystrokes without Enter on a terminal (q, or Ctrl-C as a byte, quits).
  std::optional<RawTerminal> raw;
  if (interactive) raw.emplace(0);
  Sample before, now;
  int rc = fetch(ctx, before);
  for (long n = 0; rc == 0 && (iterations < 0 || n < iterations); n++) {
    if (wait_or_quit(delay, interactive)) break;
    if ((rc = fetch(ctx, now)) != 0) break;
    const std::string screen = render(now, &before);
    if (interactive) std::fputs("\x1b[H\x1b[2J", stdout);
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
    before = now;
  }
  return rc;
}

}  // namespace pv::pvctl
