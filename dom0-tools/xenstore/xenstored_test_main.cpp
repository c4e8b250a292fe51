// xenstored-test: only the xenstore server, on a Unix socket, for the
// conformance tests (Debian's xenstore-utils through XENSTORED_PATH) and for
// poking at the protocol by hand. pvd embeds the same server for real use.
//
//   xenstored-test --socket PATH [--quota-nodes N] [--quota-entry-size N]
//                  [--quota-watches N] [--quota-transactions N]
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "xenstore/server.h"
#include "xenstore/unix_socket_server.h"

namespace {

// INTRODUCE without a hypervisor: accept, and say so.
class LoggingDomainHooks : public xenstore::DomainHooks {
 public:
  int introduce(xenstore::DomId domid, uint64_t gfn, uint32_t evtchn) override {
    std::cerr << "xenstored-test: introduce domain " << domid << " (gfn " << gfn << ", event channel " << evtchn
              << "): no ring to attach in the test daemon\n";
    return 0;
  }
  void release(xenstore::DomId domid) override { std::cerr << "xenstored-test: release domain " << domid << "\n"; }
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "xenstored-test: " << problem << "\n"
            << "usage: xenstored-test --socket PATH [--quota-nodes N] [--quota-entry-size N]\n"
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

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path;
  xenstore::Quotas quotas;
  for (int i = 1; i < argc; i++) {
    std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--socket") socket_path = value();
    else if (arg == "--quota-nodes") quotas.nodes_per_domain = parse_count(arg, value());
    else if (arg == "--quota-entry-size") quotas.max_entry_size = parse_count(arg, value());
    else if (arg == "--quota-watches") quotas.watches_per_connection = quotas.dom0_watches_per_connection = parse_count(arg, value());
    else if (arg == "--quota-transactions") quotas.transactions_per_connection = quotas.dom0_transactions_per_connection = parse_count(arg, value());
    else if (arg == "-h" || arg == "--help") usage("runs the xenstore server alone on a Unix socket");
    else usage("unknown option '" + std::string(arg) + "'");
  }
  if (socket_path.empty()) usage("--socket PATH is required");

  std::signal(SIGPIPE, SIG_IGN);
  try {
    boost::asio::io_context io;
    LoggingDomainHooks hooks;
    xenstore::XenstoreServer server(quotas, &hooks);
    xenstore::UnixSocketServer listener(io, server, socket_path);
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    std::cout << "xenstored-test: listening on " << socket_path << std::endl;
    io.run();
  } catch (const std::exception& e) {
    std::cerr << "xenstored-test: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
