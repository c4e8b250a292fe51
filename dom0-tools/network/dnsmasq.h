// DHCP and DNS for a host-only or NAT network: one dnsmasq per network,
// started by pvd as libvirt does (its own session, so it outlives a pvd
// restart, as domains do), watched through a pidfd and restarted when it
// dies. Its files live in pvd's state directory:
//   <dir>/<name>.dnsmasq.conf   generated configuration (--conf-file)
//   <dir>/<name>.hosts          static leases "mac,ip" (--dhcp-hostsfile; SIGHUP re-reads it)
//   <dir>/<name>.leases         dnsmasq's lease database
//   <dir>/<name>.pid            its pid file
//   <dir>/<name>.dnsmasq.log    its stdout/stderr and log
#pragma once
#include <sys/types.h>

#include <utility>  // Boost 1.74's Asio needs it before <boost/asio.hpp> in C++20

#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "network/network_spec.h"

namespace pv::net {

inline constexpr const char* kDnsmasqPath = "/usr/sbin/dnsmasq";

struct StaticLease {
  std::string mac;  // canonical lower-case "00:16:3e:12:34:56"
  uint32_t ip = 0;
};

struct DnsmasqFiles {
  DnsmasqFiles(const std::string& dir, const std::string& network);
  std::string conf, hosts, leases, pid, log;
};

// The configuration file for `spec` (a host-only or NAT network), with
// dnsmasq dropping its privileges to `user`.
std::string dnsmasq_config(const NetworkSpec& spec, const DnsmasqFiles& files, const std::string& user);
std::string dnsmasq_hosts(const std::vector<StaticLease>& leases);

// The address of `mac` in the text of dnsmasq's leases file (lines
// "EXPIRY MAC IP HOSTNAME CLIENT-ID"; MACs compared without case), or "".
// An IPv4 lease only; a malformed line is skipped.
std::string lease_for_mac(const std::string& leases_text, const std::string& mac);

class Dnsmasq {
 public:
  Dnsmasq(boost::asio::io_context& io, NetworkSpec spec, std::string dir);
  // Stops watching; the process itself keeps serving (a new pvd adopts it).
  ~Dnsmasq();
  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;

  // Writes the configuration and hosts file, then adopts the dnsmasq
  // already serving this network (after a pvd restart) or starts one and
  // waits until it serves. Throws NetworkError(kSystem) with dnsmasq's own
  // words when it does not start.
  void start(const std::vector<StaticLease>& leases);
  // Rewrites the hosts file and tells dnsmasq to read it again (SIGHUP).
  void set_leases(const std::vector<StaticLease>& leases);
  // SIGTERM (SIGKILL after 2 s), then removes the network's dnsmasq files.
  void stop();

  pid_t pid() const { return pid_; }

 private:
  bool adopt();
  void spawn();
  void watch();
  void exited();
  void schedule_restart();
  void drop_process();  // close the pidfd, reap a child

  boost::asio::io_context& io_;
  NetworkSpec spec_;
  DnsmasqFiles files_;
  pid_t pid_ = 0;
  bool child_ = false;
  bool stopped_ = false;
  unsigned generation_ = 0;  // of the process being watched
  std::optional<boost::asio::posix::stream_descriptor> pidfd_;
  boost::asio::steady_timer restart_timer_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
  std::shared_ptr<char> alive_ = std::make_shared<char>();  // late handlers check it
};

}  // namespace pv::net
