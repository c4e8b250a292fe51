// xenstored-test: only the xenstore server, on a Unix socket, for the
// conformance tests (Debian's xenstore-utils through XENSTORED_PATH) and for
// poking at the protocol by hand. pvd embeds the same server for real use.
//
//   xenstored-test --socket PATH [--quota-nodes N] [--quota-entry-size N]
//                  [--quota-watches N] [--quota-transactions N]
//
// Options take their value as `--opt value` or `--opt=value`.
#include <getopt.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "pv/log.h"
#include "xenstore/server.h"
#include "xenstore/unix_socket_server.h"

namespace {

namespace xs = pv::xenstore;

// INTRODUCE without a hypervisor: accept, and say so.
class LoggingDomainHooks : public xs::DomainHooks {
 public:
  int introduce(xs::DomId domid, uint64_t gfn, uint32_t evtchn) override {
    pv::log::info("introduce domain " + std::to_string(domid) + " (gfn " + std::to_string(gfn) + ", event channel " +
                  std::to_string(evtchn) + "): no ring to attach in the test daemon");
    return 0;
  }
  void release(xs::DomId domid) override { pv::log::info("release domain " + std::to_string(domid)); }
};

[[noreturn]] void usage(const std::string& problem) {
  pv::log::error(problem);
  std::cerr << "usage: xenstored-test --socket PATH [--quota-nodes N] [--quota-entry-size N]\n"
            << "                      [--quota-watches N] [--quota-transactions N]\n";
  std::exit(2);
}

size_t parse_count(std::string_view option, const char* text) {
  size_t value = 0;
  std::string_view s(text);
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    usage(std::string(option) + " needs a number, got '" + std::string(s) + "'");
  return value;
}

struct Options {
  std::string socket_path;
  xs::Quotas quotas;
};

Options parse_options(int argc, char** argv) {
  enum : int { kSocket = 256, kQuotaNodes, kQuotaEntrySize, kQuotaWatches, kQuotaTransactions };
  static const option kLongOptions[] = {
      {"socket", required_argument, nullptr, kSocket},
      {"quota-nodes", required_argument, nullptr, kQuotaNodes},
      {"quota-entry-size", required_argument, nullptr, kQuotaEntrySize},
      {"quota-watches", required_argument, nullptr, kQuotaWatches},
      {"quota-transactions", required_argument, nullptr, kQuotaTransactions},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options opts;
  opterr = 0;  // usage() reports the problem
  int c;
  while ((c = getopt_long(argc, argv, ":h", kLongOptions, nullptr)) != -1) {
    const std::string_view name = argv[optind - 1];
    switch (c) {
      case kSocket: opts.socket_path = optarg; break;
      case kQuotaNodes: opts.quotas.nodes_per_domain = parse_count("--quota-nodes", optarg); break;
      case kQuotaEntrySize: opts.quotas.max_entry_size = parse_count("--quota-entry-size", optarg); break;
      case kQuotaWatches:
        opts.quotas.watches_per_connection = opts.quotas.dom0_watches_per_connection =
            parse_count("--quota-watches", optarg);
        break;
      case kQuotaTransactions:
        opts.quotas.transactions_per_connection = opts.quotas.dom0_transactions_per_connection =
            parse_count("--quota-transactions", optarg);
        break;
      case 'h': usage("runs the xenstore server alone on a Unix socket");
      case ':': usage(std::string(name) + " needs a value");
      default: usage("unknown option '" + std::string(name) + "'");
    }
  }
  if (optind < argc) usage("unknown option '" + std::string(argv[optind]) + "'");
  if (opts.socket_path.empty()) usage("--socket PATH is required");
  return opts;
}

}  // namespace

int main(int argc, char** argv) {
  pv::log::init("xenstored");
  const Options opts = parse_options(argc, argv);

  std::signal(SIGPIPE, SIG_IGN);
  try {
    boost::asio::io_context io;
    LoggingDomainHooks hooks;
    xs::XenstoreServer server(opts.quotas, &hooks, [](std::string_view line) { pv::log::info(line); });
    xs::UnixSocketServer listener(io, server, opts.socket_path);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    // On stdout: the conformance tests wait for this line.
    std::cout << "xenstored-test: listening on " << opts.socket_path << std::endl;
    io.run();
  } catch (const std::exception& e) {
    pv::log::error(e.what());
    return 1;
  }
  return 0;
}
