// pvd's networks under test, without touching the host's own network: every
// test gets fresh network namespaces (named pvnettest-<pid>-<n>-<role>), pvd
// runs inside the "host" one (ip netns exec), and the other namespaces play
// guests and the outside world, joined by veth pairs. Teardown kills pvd
// and every process that names the test's directory (dnsmasq, stubs), then
// deletes the namespaces, whatever the test left behind.
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "test_util.h"

namespace pvtest {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline const std::string kPvd = PVD_PATH;
inline const std::string kPvctl = PVCTL_PATH;

inline std::string read_text(const std::string& path) { return slurp(path); }
inline bool process_alive(pid_t pid) { return alive(pid); }

// Live processes whose command line contains `needle`.
inline std::vector<pid_t> processes_naming(const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = read_text(e.path() / "cmdline");
    if (cmd.find(needle) == std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (pid != ::getpid() && process_alive(pid)) out.push_back(pid);
  }
  return out;
}

// Runs `fn` on a thread that has joined network namespace `ns`: sockets it
// creates live there (and keep doing so when used from other threads).
template <typename Fn>
auto in_netns(const std::string& ns, Fn fn) -> decltype(fn()) {
  decltype(fn()) result{};
  std::thread t([&] {
    const int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "cannot enter network namespace " << ns << ": " << std::strerror(errno);
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    result = fn();
  });
  t.join();
  return result;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

inline sockaddr_in inet(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

inline std::string ip_of(const sockaddr_in& a) {
  char buf[INET_ADDRSTRLEN] = "";
  ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
  return buf;
}

// A socket of `type` made in namespace `ns`, bound to ip:port (port 0:
// any); for TCP also listening.
inline int socket_in(const std::string& ns, int type, const std::string& ip, uint16_t port) {
  return in_netns(ns, [&]() -> int {
    const int s = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
    const sockaddr_in a = inet(ip, port);
    if (s < 0 || ::bind(s, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        (type == SOCK_STREAM && ::listen(s, 4) != 0)) {
      if (s >= 0) ::close(s);
      return -1;
    }
    return s;
  });
}

inline bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

// A TCP connection from namespace `ns` to ip:port, or an invalid Fd after
// `timeout`.
inline Fd tcp_connect_from(const std::string& ns, const std::string& ip, uint16_t port,
                           std::chrono::milliseconds timeout = 2s) {
  Fd s(in_netns(ns, [] { return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); }));
  const sockaddr_in a = inet(ip, port);
  if (!s || (::connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS))
    return Fd();
  pollfd p{s.get(), POLLOUT, 0};
  int err = 0;
  socklen_t len = sizeof err;
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
      ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
    return Fd();
  return s;
}

class NetworkFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "network tests need root (network namespaces)";
    if (::access("/usr/sbin/dnsmasq", X_OK) != 0) GTEST_SKIP() << "dnsmasq is not installed";
    remove_stale_namespaces();
    char tmpl[] = "/tmp/pvnet-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ::chmod(dir_.c_str(), 0755);  // dnsmasq drops root and reads its hosts file in here
    state_ = dir_ + "/state";
    socket_ = dir_ + "/pvd.sock";
    static std::atomic<int> counter{0};
    prefix_ = "pvnettest-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    host_ = add_netns("host");
    if (HasFatalFailure()) return;
    start_pvd();
  }

  void TearDown() override {
    pvd_.reset();  // SIGKILL
    if (!dir_.empty()) {
      for (pid_t pid : processes_naming(dir_ + "/")) ::kill(pid, SIGKILL);
      eventually([&] { return processes_naming(dir_ + "/").empty(); }, 5s);
      remove_cgroup_slice(cgroup_slice());
    }
    for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) run({"/usr/sbin/ip", "netns", "del", *it}, 10s);
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // A fresh namespace "<prefix>-<role>", deleted at teardown.
  std::string add_netns(const std::string& role) {
    const std::string ns = prefix_ + "-" + role;
    Result r = run({"/usr/sbin/ip", "netns", "add", ns}, 10s);
    if (r.exit_code != 0) {
      ADD_FAILURE() << "ip netns add " << ns << ": " << r.err;
      return ns;
    }
    namespaces_.push_back(ns);
    ip(ns, {"link", "set", "lo", "up"});
    return ns;
  }

  // The binaries pvd runs for domains and their devices. Networks need
  // neither: a pv-hv that does nothing and a stand-in back-end daemon.
  virtual std::vector<std::string> pvd_helpers() {
    const std::string stub = dir_ + "/pv-backd-stub";
    std::ofstream(stub) << "#!/bin/sh\nwhile sleep 60; do :; done\n";
    ::chmod(stub.c_str(), 0755);
    return {"--pv-hv", "/bin/true", "--pv-backd", stub};
  }

  void start_pvd() {
    std::vector<std::string> argv{"/usr/sbin/ip", "netns", "exec", host_, kPvd, "--state-dir", state_, "--socket",
                                  socket_, "--cgroup-slice", cgroup_slice()};
    for (auto& a : pvd_helpers()) argv.push_back(std::move(a));
    pvd_ = std::make_unique<Process>(argv);
    ASSERT_TRUE(eventually([&] { return pvctl({"network", "list"}).exit_code == 0; }, 10s)) << "pvd does not answer";
  }

  // The test's own cgroup slice for its domains' CPU shares.
  std::string cgroup_slice() const { return "pvd-test-" + fs::path(dir_).filename().string() + ".slice"; }

  Result pvctl(std::vector<std::string> args) {
    args.insert(args.begin(), {kPvctl, "--socket", socket_});
    return run(args, 30s);
  }

  // `ip -n NS ARGS...`; a failure fails the test.
  Result ip(const std::string& ns, std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/sbin/ip", "-n", ns});
    Result r = run(args, 10s);
    std::string shown;
    for (const auto& a : args) shown += " " + a;
    EXPECT_EQ(r.exit_code, 0) << shown << ": " << r.err;
    return r;
  }
  Result exec_in(const std::string& ns, std::vector<std::string> args, std::chrono::milliseconds timeout = 10s) {
    args.insert(args.begin(), {"/usr/sbin/ip", "netns", "exec", ns});
    return run(args, timeout);
  }
  bool ping(const std::string& from, const std::string& to) {
    return exec_in(from, {"ping", "-c", "1", "-W", "1", to}).exit_code == 0;
  }
  std::string ruleset(const std::string& ns) { return exec_in(ns, {"nft", "-n", "list", "ruleset"}).out; }
  std::string links(const std::string& ns) { return run({"/usr/sbin/ip", "-n", ns, "-o", "link"}, 10s).out; }
  std::string addrs(const std::string& ns) { return run({"/usr/sbin/ip", "-n", ns, "-o", "addr"}, 10s).out; }

  // A veth pair: `name`-h in pvd's namespace, `name`-p in `peer_ns`
  // with `cidr` (if any) and a default route via `gateway` (if any).
  void veth(const std::string& name, const std::string& peer_ns, const std::string& cidr, const std::string& gateway = "") {
    ip(host_, {"link", "add", name + "-h", "type", "veth", "peer", "name", name + "-p", "netns", peer_ns});
    ip(host_, {"link", "set", name + "-h", "up"});
    ip(peer_ns, {"link", "set", name + "-p", "up"});
    if (!cidr.empty()) ip(peer_ns, {"addr", "add", cidr, "dev", name + "-p"});
    if (!gateway.empty()) ip(peer_ns, {"route", "add", "default", "via", gateway});
  }

  // The address busybox udhcpc obtains on `ifname` in `ns`: "" if none,
  // "skip" without busybox.
  std::string dhcp_lease(const std::string& ns, const std::string& ifname) {
    if (::access("/usr/bin/busybox", X_OK) != 0 && ::access("/bin/busybox", X_OK) != 0) return "skip";
    Result r = exec_in(ns, {"busybox", "udhcpc", "-i", ifname, "-f", "-q", "-n", "-t", "5", "-T", "1", "-s", "/bin/true"},
                       15s);
    std::smatch m;
    const std::string all = r.out + r.err;
    return std::regex_search(all, m, std::regex("lease of ([0-9.]+) obtained")) ? std::string(m[1]) : "";
  }

  // The dnsmasq pid pvd reports for a network (0 if none).
  pid_t dnsmasq_pid(const std::string& network) {
    const std::string out = pvctl({"network", "list", "--json"}).out;
    std::smatch m;
    const std::regex re("\"name\": \"" + network + "\"[^}]*\"dnsmasq_pid\": ([0-9]+)");
    return std::regex_search(out, m, re) ? std::stoi(m[1]) : 0;
  }

  // Leaves nothing of a network behind (bridge, table, dnsmasq, files).
  void expect_gone(const std::string& network, const std::string& bridge) {
    EXPECT_EQ(links(host_).find(" " + bridge + ":"), std::string::npos) << links(host_);
    EXPECT_EQ(ruleset(host_).find("pvnet-" + network), std::string::npos) << ruleset(host_);
    EXPECT_FALSE(fs::exists(state_ + "/networks/" + network + ".rec"));
    EXPECT_FALSE(fs::exists(state_ + "/networks/" + network + ".dnsmasq.conf"));
    EXPECT_TRUE(eventually([&] { return processes_naming("/networks/" + network + ".dnsmasq.conf").empty(); }, 5s));
    EXPECT_EQ(pvctl({"network", "list"}).out.find("\n" + network + " "), std::string::npos);
  }

  // Namespaces of earlier test runs that died without their teardown.
  static void remove_stale_namespaces() {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/run/netns", ec)) {
      std::smatch m;
      const std::string name = e.path().filename();
      if (!std::regex_match(name, m, std::regex("pvnettest-([0-9]+)-[0-9]+-[a-z]+"))) continue;
      const pid_t owner = std::stoi(m[1]);
      if (owner != ::getpid() && !process_alive(owner)) run({"/usr/sbin/ip", "netns", "del", name}, 10s);
    }
  }

  std::string dir_, state_, socket_, prefix_, host_;
  std::vector<std::string> namespaces_;
  std::unique_ptr<Process> pvd_;
};

}  // namespace pvtest
