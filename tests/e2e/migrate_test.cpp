// pvctl migrate --offline end to end (issue 15; docs/save-format.md,
// "Migration"): two real pvds, each in its own network namespace with its
// own state dir, joined by a veth pair (10.77.x.1 and .2), the channel TLS
// 1.3 with certificates the test makes with the openssl CLI (a CA, a
// certificate for each pvd naming its address, and a rogue one from another
// CA). The disk image is one file both see (shared storage). The reference
// guest ticks (`tick=100`): after a migration its counter goes on on the
// target from the last tick on the source + 1; after a refused one it goes
// on on the source. Teardown kills both pvds and every pv-hv and pv-backd
// of their state dirs and deletes the namespaces, whatever the test left.
#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <regex>

#include "pvd_fixture.h"

namespace pvtest {
namespace {

struct Tick {
  uint64_t n, cancelled;
};
std::vector<Tick> ticks(const std::string& console) {
  static const std::regex re("TICK ([0-9]+) t=[0-9]+ ms resumed=[0-9]+ cancelled=([0-9]+)");
  std::vector<Tick> out;
  for (auto it = std::sregex_iterator(console.begin(), console.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back({std::stoull((*it)[1]), std::stoull((*it)[2])});
  return out;
}

Result sh(const std::vector<std::string>& argv) { return run(argv, 30s); }

// One pvd in its own namespace.
struct Side {
  std::string ns, ip, dir, state, socket, cert, key;
  std::unique_ptr<Process> pvd;
};

class MigrateTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kPort = 18002;

  void SetUp() override {
    if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is not usable here";
    char tmpl[] = "/tmp/pvd-migrate.XXXXXX";
    dir_ = mkdtemp(tmpl);
    static int n = 0;
    const std::string tag = "pvmig-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    const int net = 10 + (::getpid() + n) % 200;
    a_ = {tag + "-a", "10.77." + std::to_string(net) + ".1", dir_ + "/a", dir_ + "/a/state", dir_ + "/a/pvd.sock", "", "", {}};
    b_ = {tag + "-b", "10.77." + std::to_string(net) + ".2", dir_ + "/b", dir_ + "/b/state", dir_ + "/b/pvd.sock", "", "", {}};
    for (Side* s : {&a_, &b_}) {
      fs::create_directories(s->dir);
      ASSERT_EQ(sh({"/usr/sbin/ip", "netns", "add", s->ns}).exit_code, 0);
      namespaces_.push_back(s->ns);
      ASSERT_EQ(sh({"/usr/sbin/ip", "-n", s->ns, "link", "set", "lo", "up"}).exit_code, 0);
    }
    const std::string va = "vm" + std::to_string(::getpid() % 100000) + "a" + std::to_string(n);
    const std::string vb = "vm" + std::to_string(::getpid() % 100000) + "b" + std::to_string(n);
    Result r = sh({"/usr/sbin/ip", "link", "add", va, "netns", a_.ns, "type", "veth", "peer", "name", vb, "netns", b_.ns});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    for (auto [s, v] : {std::pair{&a_, va}, std::pair{&b_, vb}}) {
      ASSERT_EQ(sh({"/usr/sbin/ip", "-n", s->ns, "addr", "add", s->ip + "/24", "dev", v}).exit_code, 0);
      ASSERT_EQ(sh({"/usr/sbin/ip", "-n", s->ns, "link", "set", v, "up"}).exit_code, 0);
    }
    // The certificates: a CA, one for each pvd naming its address, a rogue one.
    ca_ = make_ca("ca");
    rogue_ca_ = make_ca("rogue-ca");
    std::tie(a_.cert, a_.key) = make_cert("a", a_.ip, "ca");
    std::tie(b_.cert, b_.key) = make_cert("b", b_.ip, "ca");
    std::tie(rogue_cert_, rogue_key_) = make_cert("rogue", a_.ip, "rogue-ca");
  }

  void TearDown() override {
    if (dir_.empty()) return;
    for (Side* s : {&a_, &b_}) {
      s->pvd.reset();
      for (pid_t pid : pv_hv_processes(s->state + "/")) ::kill(pid, SIGKILL);
      for (pid_t pid : backd_processes(s->state)) ::kill(pid, SIGKILL);
    }
    eventually(
        [&] {
          return pv_hv_processes(a_.state + "/").empty() && pv_hv_processes(b_.state + "/").empty() &&
                 backd_processes(a_.state).empty() && backd_processes(b_.state).empty();
        },
        5s);
    for (const auto& ns : namespaces_) sh({"/usr/sbin/ip", "netns", "del", ns});  // the veth pair goes with them
    for (Side* s : {&a_, &b_}) remove_cgroup_slice(slice(*s));
    fs::remove_all(dir_);
  }

  std::string make_ca(const std::string& name) {
    const std::string key = dir_ + "/" + name + ".key", pem = dir_ + "/" + name + ".pem";
    Result r = sh({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                   "-keyout", key, "-out", pem, "-days", "2", "-subj", "/CN=" + name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return pem;
  }
  std::pair<std::string, std::string> make_cert(const std::string& name, const std::string& ip, const std::string& ca) {
    const std::string base = dir_ + "/" + name, ext = base + ".ext";
    std::ofstream(ext) << "subjectAltName=IP:" << ip << "\nextendedKeyUsage=serverAuth,clientAuth\n";
    Result r = sh({"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                   base + ".key", "-out", base + ".csr", "-subj", "/CN=pvd-" + name});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    r = sh({"/usr/bin/openssl", "x509", "-req", "-in", base + ".csr", "-CA", dir_ + "/" + ca + ".pem", "-CAkey",
            dir_ + "/" + ca + ".key", "-CAcreateserial", "-out", base + ".pem", "-days", "2", "-extfile", ext});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return {base + ".pem", base + ".key"};
  }

  std::string slice(const Side& s) const { return "pvd-test-mig-" + fs::path(dir_).filename().string() + "-" + s.ns.back() + ".slice"; }

  // Starts the side's pvd in its namespace, listening for migrations.
  void start(Side& s, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {"/usr/sbin/ip", "netns", "exec", s.ns, kPvd, "--state-dir", s.state, "--socket", s.socket,
                                     "--pv-hv", kPvHv, "--cgroup-slice", slice(s), "--migrate-listen",
                                     s.ip + ":" + std::to_string(kPort), "--migrate-cert", s.cert, "--migrate-key",
                                     s.key, "--migrate-ca", ca_};
    for (auto& m : more) argv.push_back(m);
    s.pvd = std::make_unique<Process>(argv);
    ASSERT_TRUE(eventually([&] { return pvctl(s, {"list"}).exit_code == 0; }, 10s)) << "pvd does not answer";
  }

  Result pvctl(const Side& s, std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
    args.insert(args.begin(), {kPvctl, "--socket", s.socket});
    return run(args, timeout);
  }
  uint32_t domid(const Side& s, const std::string& name) {
    Result r = pvctl(s, {"domid", name});
    return r.exit_code == 0 ? static_cast<uint32_t>(std::stoul(r.out)) : 0;
  }
  std::string console(const Side& s, uint32_t id) {
    const std::string live = slurp(s.state + "/domains/" + std::to_string(id) + ".console.log");
    if (!live.empty()) return live;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(s.state + "/console-logs", ec))
      if (e.path().filename().string().ends_with("." + std::to_string(id) + ".log")) return slurp(e.path().string());
    return "";
  }
  bool console_has(const Side& s, uint32_t id, const std::string& text, std::chrono::milliseconds t = 30s) {
    return eventually([&] { return console(s, id).find(text) != std::string::npos; }, t);
  }
  // A ticking guest with a raw disk on `s`; its id.
  uint32_t create_ticker(const Side& s, const std::string& name) {
    const std::string img = dir_ + "/" + name + ".img";
    if (!fs::exists(img)) {
      std::ofstream(img).close();
      fs::resize_file(img, 8 << 20);
    }
    const std::string cfg = s.dir + "/" + name + ".cfg";
    std::ofstream(cfg) << "name = \"" << name << "\"\nmemory = 64\nvcpus = 1\ntype = \"pvh\"\nkernel = \"" << kGuest
                       << "\"\nextra = \"tick=100\"\ndisk = ['format=raw, vdev=xvda, access=rw, target=" << img
                       << "']\n";
    Result r = pvctl(s, {"create", cfg});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    const uint32_t id = domid(s, name);
    EXPECT_TRUE(console_has(s, id, "TICK 3 ")) << console(s, id);
    return id;
  }
  Result migrate(const Side& from, const std::string& name, const Side& to, uint16_t port = kPort) {
    return pvctl(from, {"migrate", "--offline", name, to.ip + ":" + std::to_string(port)}, 90s);
  }
  // The domain goes on where it is: ticks beyond `after`.
  bool ticks_on(const Side& s, uint32_t id, uint64_t after) {
    return eventually(
        [&] {
          const auto t = ticks(console(s, id));
          return !t.empty() && t.back().n >= after + 3;
        },
        20s);
  }
  // Moves `name` from `from` to `to` and checks its counter goes on there.
  void expect_moves(Side& from, Side& to, const std::string& name) {
    const uint32_t src = domid(from, name);
    ASSERT_NE(src, 0u);
    Result r = migrate(from, name, to);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << "\nsource console:\n" << console(from, src);
    std::cout << r.out;
    EXPECT_NE(r.out.find("migrated domain " + name), std::string::npos) << r.out;
    // Gone here (its pv-hv too), running there.
    EXPECT_NE(pvctl(from, {"info", name}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return pv_hv_processes(from.state + "/").empty(); }, 10s));
    const uint32_t dst = domid(to, name);
    ASSERT_NE(dst, 0u) << pvctl(to, {"list"}).out;
    ASSERT_TRUE(console_has(to, dst, "TICK ")) << console(to, dst);
    const auto before = ticks(console(from, src)), after = ticks(console(to, dst));
    ASSERT_FALSE(before.empty());
    ASSERT_FALSE(after.empty());
    EXPECT_EQ(after.front().n, before.back().n + 1) << "source:\n" << console(from, src) << "\ntarget:\n"
                                                    << console(to, dst);
    EXPECT_TRUE(ticks_on(to, dst, after.front().n)) << console(to, dst);
    // Nothing left over in either state dir's migration folders.
    EXPECT_TRUE(!fs::exists(from.state + "/migrate-out") || fs::is_empty(from.state + "/migrate-out"));
    EXPECT_TRUE(!fs::exists(to.state + "/migrate-in") || fs::is_empty(to.state + "/migrate-in"));
  }
  // A refused migration: the domain keeps running on `from` (its counter
  // goes on), nothing of it on `to`.
  void expect_stays(Side& from, Side& to, const std::string& name, uint32_t id, size_t on_target = 0) {
    EXPECT_EQ(pvctl(from, {"info", name}).exit_code, 0);
    const auto t = ticks(console(from, id));
    ASSERT_FALSE(t.empty());
    EXPECT_TRUE(ticks_on(from, id, t.back().n)) << console(from, id);
    EXPECT_EQ(pv_hv_processes(to.state + "/").size(), on_target);
    EXPECT_TRUE(!fs::exists(to.state + "/migrate-in") || fs::is_empty(to.state + "/migrate-in"));
    EXPECT_TRUE(!fs::exists(from.state + "/migrate-out") || fs::is_empty(from.state + "/migrate-out"));
  }

  std::string dir_, ca_, rogue_ca_, rogue_cert_, rogue_key_;
  Side a_, b_;
  std::vector<std::string> namespaces_;
};

TEST_F(MigrateTest, ATickingGuestMovesToTheOtherPvdAndBackCountingOn) {
  start(a_);
  start(b_);
  create_ticker(a_, "mig1");
  expect_moves(a_, b_, "mig1");
  expect_moves(b_, a_, "mig1");
}

TEST_F(MigrateTest, AnUntrustedSourceIsRefusedAndTheDomainGoesOnThere) {
  a_.cert = rogue_cert_, a_.key = rogue_key_;  // signed by another CA than b's --migrate-ca
  start(a_);
  start(b_);
  const uint32_t id = create_ticker(a_, "mig2");
  Result r = migrate(a_, "mig2", b_);
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::cout << r.err;
  EXPECT_NE(r.err.find("TLS"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the domain was not touched"), std::string::npos) << r.err;
  expect_stays(a_, b_, "mig2", id);
  EXPECT_EQ(console(a_, id).find("SUSPEND"), std::string::npos) << "the guest was suspended for nothing";
}

TEST_F(MigrateTest, AnUntrustedTargetIsRefusedByTheSourceAndTheDomainGoesOn) {
  b_.cert = rogue_cert_, b_.key = rogue_key_;  // another CA, and naming a's address, not b's
  start(a_);
  start(b_);
  const uint32_t id = create_ticker(a_, "mig6");
  Result r = migrate(a_, "mig6", b_);
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::cout << r.err;
  EXPECT_NE(r.err.find("TLS handshake failed: TLS: certificate verify failed"), std::string::npos) << r.err;
  expect_stays(a_, b_, "mig6", id);
}

TEST_F(MigrateTest, ATargetNotListeningIsAClearErrorAndTheDomainGoesOn) {
  start(a_);
  start(b_);
  const uint32_t id = create_ticker(a_, "mig3");
  Result r = migrate(a_, "mig3", b_, kPort + 1);
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::cout << r.err;
  EXPECT_NE(r.err.find("cannot connect: Connection refused"), std::string::npos) << r.err;
  // A deadline past pv-hv's 60 s hold is refused before anything is tried.
  r = pvctl(a_, {"migrate", "--offline", "--timeout", "61", "mig3", b_.ip + ":" + std::to_string(kPort)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("a timeout is at most 60 s"), std::string::npos) << r.err;
  expect_stays(a_, b_, "mig3", id);
}

TEST_F(MigrateTest, ATargetWithADomainOfThatNameRefusesIt) {
  start(a_);
  start(b_);
  const uint32_t id = create_ticker(a_, "mig4");
  create_ticker(b_, "mig4");
  Result r = migrate(a_, "mig4", b_);
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::cout << r.err;
  EXPECT_NE(r.err.find("a domain named 'mig4' exists on the target already"), std::string::npos) << r.err;
  expect_stays(a_, b_, "mig4", id, 1);
}

// The target takes the stream but cannot restore it (it admits no guest
// memory): the guest, held meanwhile, is released and goes on on the source.
TEST_F(MigrateTest, ATargetThatCannotRestoreItLeavesTheGuestGoingOnOnTheSource) {
  start(a_);
  start(b_, {"--mem-reserve", "100t"});
  const uint32_t id = create_ticker(a_, "mig5");
  Result r = migrate(a_, "mig5", b_);
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::cout << r.err;
  EXPECT_NE(r.err.find("the target cannot restore it"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the domain goes on here"), std::string::npos) << r.err;
  EXPECT_TRUE(console_has(a_, id, "SUSPEND cancelled")) << console(a_, id);
  expect_stays(a_, b_, "mig5", id);
  EXPECT_NE(pvctl(b_, {"info", "mig5"}).exit_code, 0);
  // Its counter went on without a gap.
  const auto all = ticks(console(a_, id));
  for (size_t i = 0; i < all.size(); i++) ASSERT_EQ(all[i].n, i) << console(a_, id);
  EXPECT_GT(all.back().cancelled, 0u);
}

// A hostile peer (with a trusted certificate) speaking to the target
// directly through `openssl s_client`: every malformed, oversized or
// truncated input is refused with its reason and leaves nothing behind.
class MigrateHostilePeerTest : public MigrateTest {
 protected:
  static std::string le32(uint32_t v) {
    std::string s;
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
    return s;
  }
  static std::string le64(uint64_t v) { return le32(static_cast<uint32_t>(v)) + le32(static_cast<uint32_t>(v >> 32)); }
  static std::string offer(const std::string& name) { return "PVMIGRT1" + le32(1) + le32(static_cast<uint32_t>(name.size())) + name; }
  // Sends `bytes` from a's namespace with a's certificate; what came back.
  // `close_early`: the connection ends as soon as the bytes are sent.
  std::string send_raw(const std::string& bytes, bool close_early = false) {
    const std::string in = dir_ + "/payload";
    std::ofstream(in, std::ios::binary) << bytes;
    const std::string cmd = "exec /usr/sbin/ip netns exec " + a_.ns + " /usr/bin/openssl s_client -quiet " +
                            (close_early ? "-no_ign_eof " : "") + "-connect " + b_.ip + ":" + std::to_string(kPort) +
                            " -cert " + a_.cert + " -key " + a_.key + " -CAfile " + ca_ + " < " + in;
    return run({"/bin/sh", "-c", cmd}, 60s).out;
  }
  void expect_nothing_on_target() {
    EXPECT_TRUE(eventually([&] { return !fs::exists(b_.state + "/migrate-in") || fs::is_empty(b_.state + "/migrate-in"); }, 5s));
    EXPECT_TRUE(pv_hv_processes(b_.state + "/").empty());
    EXPECT_EQ(pvctl(b_, {"list"}).out.find("evil"), std::string::npos);
  }
};

TEST_F(MigrateHostilePeerTest, MalformedOversizedAndTruncatedInputIsRefusedAndLeavesNothing) {
  start(a_);
  start(b_);
  std::string got = send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(got.find("not a pvd migration offer (bad magic)"), std::string::npos) << got;
  got = send_raw("PVMIGRT1" + le32(1) + le32(100000) + std::string(64, 'x'));
  EXPECT_NE(got.find("a domain name of 100000 bytes (1 to 64 allowed)"), std::string::npos) << got;
  got = send_raw("PVMIGRT1" + le32(7) + le32(4) + "evil");
  EXPECT_NE(got.find("migration protocol version 7"), std::string::npos) << got;
  got = send_raw(offer("../../etc"));
  EXPECT_NE(got.find("is not a domain name"), std::string::npos) << got;
  got = send_raw(offer("evil") + le64(uint64_t{1} << 50));
  EXPECT_NE(got.find("ready"), std::string::npos) << got;
  EXPECT_NE(got.find("1 byte to 256 GiB allowed"), std::string::npos) << got;
  // Truncated: 1 MiB announced, 100 bytes sent, then the connection ends.
  send_raw(offer("evil") + le64(1 << 20) + std::string(100, 'z'), true);
  expect_nothing_on_target();
  // Whole but not a save stream: refused at the restore.
  got = send_raw(offer("evil") + le64(4096) + std::string(4096, 'q'));
  EXPECT_NE(got.find("the target cannot restore it"), std::string::npos) << got;
  std::cout << got.substr(got.rfind("the target")) << "\n";
  expect_nothing_on_target();
  // The target still takes a real migration afterwards.
  create_ticker(a_, "mig7");
  expect_moves(a_, b_, "mig7");
}

// A target that says ready, takes the stream and never answers (openssl
// s_server with a canned answer): --timeout passes, the held guest is
// released and goes on on the source.
TEST_F(MigrateHostilePeerTest, ATargetThatNeverAnswersTimesOutAndTheGuestGoesOn) {
  start(a_);
  const std::string ready = dir_ + "/ready";
  std::ofstream(ready, std::ios::binary) << "PVMIGANS" << le32(0) << le32(5) << "ready";
  // In a process group of its own (setsid), all of it killed at the end
  // whatever happens: the shell, the canned answer's writer, s_server.
  Process target({"/usr/bin/setsid", "/bin/sh", "-c",
                  "(cat " + ready + "; sleep 120) | exec /usr/sbin/ip netns exec " + b_.ns +
                      " /usr/bin/openssl s_server -quiet -accept " + b_.ip + ":" + std::to_string(kPort) + " -cert " +
                      b_.cert + " -key " + b_.key + " -CAfile " + ca_ + " -Verify 2 > /dev/null"});
  struct KillGroup {
    pid_t pgid;
    ~KillGroup() { ::kill(-pgid, SIGKILL); }
  } kill_group{target.pid()};
  const uint32_t id = create_ticker(a_, "mig8");
  ASSERT_TRUE(eventually([&] { return run({"/usr/sbin/ip", "netns", "exec", b_.ns, "/usr/bin/ss", "-ltn"}, 5s).out.find(":" + std::to_string(kPort)) != std::string::npos; }, 10s));
  const auto t0 = std::chrono::steady_clock::now();
  Result r = pvctl(a_, {"migrate", "--offline", "--timeout", "5", "mig8", b_.ip + ":" + std::to_string(kPort)}, 60s);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(r.exit_code, 0) << r.out;
  std::cout << r.err;
  EXPECT_NE(r.err.find("not done within 5 s (--timeout); the domain goes on here"), std::string::npos) << r.err;
  EXPECT_LT(took, 15s);
  EXPECT_TRUE(console_has(a_, id, "SUSPEND cancelled")) << console(a_, id);
  const auto t = ticks(console(a_, id));
  ASSERT_FALSE(t.empty());
  EXPECT_TRUE(ticks_on(a_, id, t.back().n)) << console(a_, id);
  EXPECT_TRUE(!fs::exists(a_.state + "/migrate-out") || fs::is_empty(a_.state + "/migrate-out"));
}

}  // namespace
}  // namespace pvtest
