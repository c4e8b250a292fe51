// End-to-end tests of the toolstack: a real pvd on a temporary state
// directory and socket, driven through the real pvctl, running real
// domains (the reference guest on pv-hv).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

using Pvd = PvdFixture;

// Tests of pvd's own logic (IDs, names, pause, adoption, the admin socket):
// they run on pv-hv-double, so also where there is no /dev/kvm.
class PvdLogic : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }
};

TEST_F(Pvd, CreateListInfoDestroy) {
  Result c = pvctl({"create", config("alpha", "watchdog=3600")});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("created domain alpha (id 1)"), std::string::npos) << c.out;

  Result l = pvctl({"list"});
  EXPECT_TRUE(std::regex_search(l.out, std::regex("Name +ID +Mem +VCPUs +State +Time\\(s\\)"))) << l.out;
  EXPECT_TRUE(std::regex_search(row("alpha"), std::regex("^alpha +1 +64 +2 +r----- +[0-9.]+$"))) << row("alpha");

  Result j = pvctl({"list", "--json"});
  EXPECT_NE(j.out.find("\"name\": \"alpha\", \"id\": 1, \"mem\": 64, \"vcpus\": 2, \"state\": \"r-----\""),
            std::string::npos)
      << j.out;

  const pid_t pid = pid_of("alpha");
  ASSERT_TRUE(alive(pid));
  Result i = pvctl({"info", "1"});
  EXPECT_NE(i.out.find("name: alpha"), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("cmdline: watchdog=3600"), std::string::npos) << i.out;
  // The guest booted: its console went to the domain's log.
  EXPECT_TRUE(eventually([&] {
    std::ifstream log(state_ + "/domains/1.console.log");
    return std::string((std::istreambuf_iterator<char>(log)), {}).find("WATCHDOG armed") != std::string::npos;
  }));

  Result d = pvctl({"destroy", "alpha"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_FALSE(alive(pid));
  EXPECT_EQ(row("alpha"), "");
  EXPECT_FALSE(fs::exists(state_ + "/domains/1.rec"));
}

TEST_F(PvdLogic, SeveralDomainsAtOnce) {
  for (const char* n : {"one", "two", "three"}) ASSERT_EQ(pvctl({"create", config(n, "watchdog=3600")}).exit_code, 0);
  EXPECT_NE(row("one").find(" 1 "), std::string::npos);
  EXPECT_NE(row("two").find(" 2 "), std::string::npos);
  EXPECT_NE(row("three").find(" 3 "), std::string::npos);
  EXPECT_EQ(pvctl({"destroy", "2"}).exit_code, 0);
  EXPECT_EQ(row("two"), "");
  // As Xen: IDs are handed out in order and not reused until they wrap, so
  // a late `destroy 2` cannot hit the newer domain.
  ASSERT_EQ(pvctl({"create", config("four", "watchdog=3600")}).exit_code, 0);
  EXPECT_NE(row("four").find(" 4 "), std::string::npos) << row("four");
  EXPECT_EQ(pvctl({"destroy", "2"}).exit_code, 1);
  EXPECT_NE(row("four"), "");
  // A restarted pvd goes on from there.
  pvd_.reset();
  start_pvd();
  ASSERT_EQ(pvctl({"create", config("five", "watchdog=3600")}).exit_code, 0);
  EXPECT_NE(row("five").find(" 5 "), std::string::npos) << row("five");
  for (const char* n : {"one", "three", "four", "five"}) EXPECT_EQ(pvctl({"destroy", n}).exit_code, 0);
}

TEST_F(PvdLogic, NamesAreUniqueAndUnknownDomainsAreErrors) {
  ASSERT_EQ(pvctl({"create", config("solo", "watchdog=3600")}).exit_code, 0);
  Result again = pvctl({"create", config("solo", "watchdog=3600")});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("already exists"), std::string::npos) << again.err;
  Result missing = pvctl({"destroy", "nosuch"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no domain named 'nosuch'"), std::string::npos) << missing.err;
  EXPECT_EQ(pvctl({"destroy", "solo"}).exit_code, 0);
}

TEST_F(PvdLogic, BadConfigCreatesNothing) {
  const std::string path = dir_ + "/bad.cfg";
  std::ofstream(path) << "name = \"bad\"\nmemory = \"lots\"\nkernel = \"" << kGuest << "\"\n";
  Result r = pvctl({"create", path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(path + ":2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory"), std::string::npos) << r.err;
  EXPECT_EQ(row("bad"), "");
  EXPECT_TRUE(fs::is_empty(state_ + "/domains"));
}

TEST_F(Pvd, OnPoweroffDestroyRemovesTheDomain) {
  ASSERT_EQ(pvctl({"create", config("brief", "")}).exit_code, 0);  // READY, then poweroff
  EXPECT_TRUE(eventually([&] { return row("brief").empty(); })) << row("brief");
}

TEST_F(Pvd, OnCrashPreserveKeepsACrashedDomain) {
  ASSERT_EQ(pvctl({"create", config("crashy", "shutdown=crash", "on_crash = \"preserve\"\n")}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return row("crashy").find("----c-") != std::string::npos; })) << row("crashy");
  Result i = pvctl({"info", "crashy"});
  EXPECT_NE(i.out.find("shutdown reason: crash"), std::string::npos) << i.out;
  EXPECT_EQ(pvctl({"destroy", "crashy"}).exit_code, 0);
  EXPECT_EQ(row("crashy"), "");
}

TEST_F(Pvd, OnRebootRestartRebootsUntilTheLoopGuardStopsIt) {
  ASSERT_EQ(pvctl({"create", config("loop", "shutdown=reboot")}).exit_code, 0);  // on_reboot defaults to restart
  EXPECT_TRUE(eventually([&] { return row("loop").find("----c-") != std::string::npos; }, 60s)) << row("loop");
  Result i = pvctl({"info", "loop"});
  EXPECT_NE(i.out.find("restart loop stopped"), std::string::npos) << i.out;
  std::ifstream log(state_ + "/domains/1.console.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  size_t boots = 0;
  for (size_t p = text.find("\nREADY\n"); p != std::string::npos; p = text.find("\nREADY\n", p + 1)) boots++;
  EXPECT_EQ(boots, 10u);
}

TEST_F(PvdLogic, PauseAndUnpause) {
  ASSERT_EQ(pvctl({"create", config("napper", "watchdog=3600")}).exit_code, 0);
  EXPECT_EQ(pvctl({"pause", "napper"}).exit_code, 0);
  EXPECT_NE(row("napper").find("--p---"), std::string::npos) << row("napper");
  Result twice = pvctl({"pause", "napper"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_NE(twice.err.find("not running"), std::string::npos);
  EXPECT_EQ(pvctl({"unpause", "napper"}).exit_code, 0);
  EXPECT_NE(row("napper").find("r-----"), std::string::npos) << row("napper");
  EXPECT_EQ(pvctl({"pause", "napper"}).exit_code, 0);
  EXPECT_EQ(pvctl({"destroy", "napper"}).exit_code, 0);  // a paused domain can be destroyed
  EXPECT_EQ(row("napper"), "");
}

TEST_F(PvdLogic, KilledPvdLeavesDomainsRunningAndANewOneReattaches) {
  ASSERT_EQ(pvctl({"create", config("survivor", "watchdog=3600")}).exit_code, 0);
  const pid_t pid = pid_of("survivor");
  ASSERT_TRUE(alive(pid));
  ::kill(pvd_->pid(), SIGKILL);
  pvd_->wait(10s);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(alive(pid)) << "the domain died with pvd";
  start_pvd();
  EXPECT_NE(row("survivor").find("r-----"), std::string::npos) << row("survivor");
  EXPECT_EQ(pid_of("survivor"), pid);
  // The console attaches again, and ends when the domain is destroyed.
  Process attached({kPvctl, "--socket", socket_, "console", "survivor"});
  ASSERT_TRUE(attached.wait_for_output("Escape character is ^]", 10s, true));
  EXPECT_EQ(pvctl({"destroy", "survivor"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return !alive(pid); }, 5s));
  Result c = attached.wait(10s);
  EXPECT_FALSE(c.timed_out);
  EXPECT_EQ(c.exit_code, 0) << c.err;
}

TEST_F(Pvd, GuestUsesXenstoreThroughPvd) {
  ASSERT_EQ(pvctl({"create", config("xs", "xenstore idle")}).exit_code, 0);
  ASSERT_TRUE(eventually([&] {
    return std::regex_search(console(1), std::regex("xenstore: [0-9]+ passed, [0-9]+ failed"));
  }))
      << console(1);
  EXPECT_NE(console(1).find("xenstore: 10 passed, 0 failed"), std::string::npos) << console(1);
  // Debian's xenstore clients see the same store from dom0.
  const std::vector<std::string> env_prefix = {"/usr/bin/env", "XENSTORED_RUNDIR=/nonexistent",
                                               "XENSTORED_PATH=" + state_ + "/xenstored.sock"};
  auto xs = [&](std::vector<std::string> args) {
    args.insert(args.begin(), env_prefix.begin(), env_prefix.end());
    return pvtest::run(args, 10s);
  };
  Result name = xs({"/usr/bin/xenstore-read", "/local/domain/1/name"});
  EXPECT_EQ(name.out, "xs\n") << name.err;
  // Xen's layout: /local/domain/<id>/vm names the domain's /vm/<uuid>.
  Result vm = xs({"/usr/bin/xenstore-read", "/local/domain/1/vm"});
  ASSERT_TRUE(std::regex_match(vm.out, std::regex("/vm/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n")))
      << vm.out << vm.err;
  const std::string vm_path = vm.out.substr(0, vm.out.size() - 1);
  EXPECT_EQ(xs({"/usr/bin/xenstore-read", vm_path + "/name"}).out, "xs\n");
  EXPECT_TRUE(eventually([&] {
    return xs({"/usr/bin/xenstore-read", "/local/domain/1/control/feature-poweroff"}).out == "1\n";
  }));
  EXPECT_EQ(pvctl({"destroy", "xs"}).exit_code, 0);
  EXPECT_NE(xs({"/usr/bin/xenstore-read", "/local/domain/1/name"}).exit_code, 0);  // removed with the domain
  EXPECT_NE(xs({"/usr/bin/xenstore-read", vm_path + "/name"}).exit_code, 0);
}

TEST_F(Pvd, ShutdownAndRebootGoThroughControlShutdown) {
  ASSERT_EQ(pvctl({"create", config("polite", "idle")}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return console(1).find("xenbus: watching control/shutdown") != std::string::npos; }));
  const pid_t first = pid_of("polite");
  EXPECT_EQ(pvctl({"reboot", "polite"}).exit_code, 0);  // on_reboot = restart: a new pv-hv, same id
  EXPECT_TRUE(eventually([&] {
    const pid_t p = pid_of("polite");
    return p > 0 && p != first && row("polite").find("r-----") != std::string::npos;
  }));
  EXPECT_NE(console(1).find("xenbus: control/shutdown=reboot"), std::string::npos);
  ASSERT_TRUE(eventually([&] {
    const std::string log = console(1);
    return log.find("xenbus: watching control/shutdown") != log.rfind("xenbus: watching control/shutdown");
  })) << console(1);
  Result s = pvctl({"shutdown", "--wait", "polite"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(row("polite"), "");  // on_poweroff = destroy: gone when --wait returns
  Result gone = pvctl({"shutdown", "polite"});
  EXPECT_EQ(gone.exit_code, 1);
}

// A guest that does not watch control/shutdown never acknowledges: as xl,
// shutdown reports it (exit 4) and the guest runs on.
TEST_F(Pvd, ShutdownOfAGuestThatDoesNotListenIsReported) {
  ASSERT_EQ(pvctl({"create", config("deaf", "watchdog=3600")}).exit_code, 0);
  const auto start = std::chrono::steady_clock::now();
  Result s = pvctl({"shutdown", "--ack-timeout", "2", "deaf"});
  EXPECT_EQ(s.exit_code, 4) << s.err;
  EXPECT_NE(s.err.find("domain 'deaf' did not acknowledge the poweroff request within 2 s"), std::string::npos)
      << s.err;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_NE(row("deaf").find("r-----"), std::string::npos) << row("deaf");
  EXPECT_EQ(pvctl({"shutdown", "-w", "--ack-timeout", "1", "deaf"}).exit_code, 4);
  EXPECT_EQ(pvctl({"destroy", "deaf"}).exit_code, 0);
}

// Acknowledged (control/shutdown cleared, here by dom0 for a guest that
// does not listen) but still running when --wait's timeout passes: exit 5.
TEST_F(Pvd, ShutdownWaitHasATimeout) {
  ASSERT_EQ(pvctl({"create", config("slow", "watchdog=3600")}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return xs("exists", {"/local/domain/1/control/shutdown"}).exit_code == 0; }));
  Process waiting({kPvctl, "--socket", socket_, "shutdown", "-w", "--timeout", "2", "--ack-timeout", "20", "slow"});
  ASSERT_TRUE(eventually([&] { return xs("read", {"/local/domain/1/control/shutdown"}).out == "poweroff\n"; }, 10s));
  ASSERT_EQ(xs("write", {"/local/domain/1/control/shutdown", ""}).exit_code, 0);
  Result r = waiting.wait(20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 5) << r.err;
  EXPECT_NE(r.err.find("domain 'slow' acknowledged the poweroff request but still runs after 2 s"), std::string::npos)
      << r.err;
  EXPECT_NE(row("slow").find("r-----"), std::string::npos);
  EXPECT_EQ(pvctl({"destroy", "slow"}).exit_code, 0);
}

TEST_F(Pvd, ShutdownAllWaitsForEveryDomain) {
  for (const char* n : {"a1", "a2"}) ASSERT_EQ(pvctl({"create", config(n, "idle")}).exit_code, 0);
  for (uint32_t id : {1u, 2u}) ASSERT_TRUE(console_has(id, "xenbus: watching control/shutdown")) << console(id);
  Result s = pvctl({"shutdown", "-a", "-w"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(row("a1"), "");  // on_poweroff = destroy: gone when -w returns
  EXPECT_EQ(row("a2"), "");
  EXPECT_NE(row("Domain-0"), "");
}

// Relative paths in a configuration are the file's, whatever pvctl's
// working directory.
TEST_F(Pvd, RelativePathsFromAnotherDirectory) {
  fs::create_directories(dir_ + "/guests/boot");
  fs::create_symlink(kGuest, dir_ + "/guests/boot/guest.elf");
  std::ofstream(dir_ + "/guests/rel.cfg") << "name = \"rel\"\nmemory = 64\nkernel = \"boot/guest.elf\"\n"
                                          << "extra = \"watchdog=3600\"\n";
  Result r = run({"/bin/sh", "-c", "cd / && exec \"$0\" --socket \"$1\" create \"$2\"", kPvctl, socket_,
                  dir_ + "/guests/rel.cfg"},
                 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(pvctl({"info", "rel"}).out.find("kernel: " + dir_ + "/guests/boot/guest.elf\n"), std::string::npos);
  EXPECT_TRUE(console_has(1, "WATCHDOG armed")) << console(1);
  EXPECT_NE(pvctl({"uptime", "rel"}).out.find("rel "), std::string::npos);
  EXPECT_EQ(pvctl({"domid", "rel"}).out, "1\n");
  EXPECT_EQ(pvctl({"domname", "1"}).out, "rel\n");
  EXPECT_EQ(pvctl({"destroy", "rel"}).exit_code, 0);
}

TEST_F(Pvd, ConsoleShowsTheGuestUntilItEnds) {
  ASSERT_EQ(pvctl({"create", config("chatty", "idle")}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return console(1).find("xenbus: watching control/shutdown") != std::string::npos; }));
  Process console({kPvctl, "--socket", socket_, "console", "chatty"});
  ASSERT_TRUE(console.wait_for_output("Escape character is ^]", 10s, true));
  EXPECT_EQ(pvctl({"shutdown", "chatty"}).exit_code, 0);
  // The guest's reaction reaches the attached console; it ends with the domain.
  Result r = console.wait(20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("xenbus: control/shutdown=poweroff"), std::string::npos) << r.out;
  // Once pvd has seen the domain end (on_poweroff = destroy), it is gone.
  ASSERT_TRUE(eventually([&] { return row("chatty").empty(); })) << row("chatty");
  Result none = pvctl({"console", "chatty"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no domain named 'chatty'"), std::string::npos) << none.err;
}

// pv-hv keeps the console's history: a console attached later shows what
// the guest printed before, once, then live output.
TEST_F(Pvd, ConsoleShowsWhatTheGuestPrintedBeforeAttach) {
  ASSERT_EQ(pvctl({"create", config("early", "idle")}).exit_code, 0);
  ASSERT_TRUE(console_has(1, "xenbus: watching control/shutdown")) << console(1);
  Process attached({kPvctl, "--socket", socket_, "console", "early"});
  ASSERT_TRUE(attached.wait_for_output("xenbus: watching control/shutdown", 10s)) << "no history";
  EXPECT_EQ(pvctl({"shutdown", "early"}).exit_code, 0);
  Result r = attached.wait(20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Everything the guest printed, the boot banner first and only once, as
  // in the log; then its reaction to the shutdown, live.
  const size_t banner = r.out.find("pvguest: Xen ");
  ASSERT_NE(banner, std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("pvguest: Xen ", banner + 1), std::string::npos) << r.out;
  EXPECT_LT(r.out.find("READY\n"), r.out.find("xenbus: control/shutdown=poweroff")) << r.out;
  // Not a terminal: the guest's bytes unchanged (no "\r" added).
  EXPECT_NE(r.out.find("\nREADY\n"), std::string::npos) << r.out;
}

// As xl create -c: the console from the guest's first line on.
TEST_F(Pvd, CreateWithConsoleShowsTheFirstLine) {
  Process created({kPvctl, "--socket", socket_, "create", "-c", config("talker", "idle")});
  ASSERT_TRUE(created.wait_for_output("xenbus: watching control/shutdown", 30s));
  EXPECT_EQ(pvctl({"shutdown", "talker"}).exit_code, 0);
  Result r = created.wait(20s);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(r.out.rfind("created domain talker (id 1)\n", 0), 0u) << r.out;
  EXPECT_NE(r.err.find("Escape character is ^]"), std::string::npos) << r.err;
  // Right after pvctl's line, the reference guest's first line (its boot
  // banner), though the guest printed it before the console attached.
  const std::string shown = r.out.substr(std::string("created domain talker (id 1)\n").size());
  EXPECT_EQ(shown.rfind("pvguest: Xen ", 0), 0u) << shown;
  EXPECT_NE(r.out.find("xenbus: control/shutdown=poweroff"), std::string::npos) << r.out;
}

TEST_F(PvdLogic, HostileAdminInputDoesNotHurtPvd) {
  auto raw = [&](const std::string& bytes) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, socket_.c_str(), sizeof(a.sun_path) - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    ::shutdown(fd, SHUT_WR);
    std::string got;
    char buf[512];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return got;
  };
  EXPECT_NE(raw("\xff\xff\xff\xff\x0f").find("exceeds"), std::string::npos);  // a 4 GiB length
  EXPECT_NE(raw("\xff\xff\xff\xff\xff\xff").find("varint"), std::string::npos);
  EXPECT_NE(raw(std::string("\x05garba", 6)).find("not a valid"), std::string::npos);
  raw(std::string("\x40partial", 8));  // truncated: pvd waits, then sees the close
  raw("");
  Result l = pvctl({"list"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_TRUE(alive(pvd_->pid()));
}

// pvctl and pvd on their own: help, options and usage errors need no
// domain (and no /dev/kvm).
TEST(PvctlCli, HelpForEveryVerbComesFromOneTable) {
  Result list = run({kPvctl, "help"}, 10s);
  EXPECT_EQ(list.exit_code, 0);
  for (const char* verb : {"create [-c] FILE", "list [--disks] [--json]", "info [--json] DOMAIN", "destroy DOMAIN", "console DOMAIN",
                           "pause DOMAIN", "unpause DOMAIN", "shutdown [-w|--wait [--timeout S]]", "reboot DOMAIN",
                           "mem-set DOMAIN SIZE", "mem-max DOMAIN SIZE", "domid NAME", "domname ID",
                           "uptime [-s] [DOMAIN...]", "network"})
    EXPECT_NE(list.out.find(verb), std::string::npos) << verb << " in: " << list.out;
  Result bare = run({kPvctl}, 10s);
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_EQ(bare.err, list.out);

  Result help_create = run({kPvctl, "help", "create"}, 10s);
  EXPECT_EQ(help_create.exit_code, 0);
  EXPECT_NE(help_create.out.find("usage: pvctl create [-c] FILE"), std::string::npos) << help_create.out;
  EXPECT_NE(help_create.out.find("-c: then attach its console"), std::string::npos) << help_create.out;
  Result create_help = run({kPvctl, "create", "--help"}, 10s);
  EXPECT_EQ(create_help.exit_code, 0);
  EXPECT_EQ(create_help.out, help_create.out);

  Result net = run({kPvctl, "network", "create", "--help"}, 10s);
  EXPECT_EQ(net.exit_code, 0);
  EXPECT_NE(net.out.find("usage: pvctl network create NAME --mode"), std::string::npos) << net.out;
  EXPECT_EQ(run({kPvctl, "help", "network", "create"}, 10s).out, net.out);
  EXPECT_EQ(run({kPvctl, "network", "help"}, 10s).exit_code, 0);
}

TEST(PvctlCli, UnknownVerbsAndOptionsAreUsageErrors) {
  Result verb = run({kPvctl, "frobnicate"}, 10s);
  EXPECT_EQ(verb.exit_code, 2);
  EXPECT_NE(verb.err.find("unknown verb 'frobnicate'"), std::string::npos) << verb.err;
  Result help = run({kPvctl, "help", "frobnicate"}, 10s);
  EXPECT_EQ(help.exit_code, 2);
  Result opt = run({kPvctl, "--bogus", "list"}, 10s);
  EXPECT_EQ(opt.exit_code, 2);
  EXPECT_NE(opt.err.find("unknown option '--bogus'"), std::string::npos) << opt.err;
  Result list = run({kPvctl, "--socket=/nonexistent/pvd.sock", "list", "--all"}, 10s);
  EXPECT_EQ(list.exit_code, 2);
  EXPECT_NE(list.err.find("list takes only --disks and --json"), std::string::npos) << list.err;
  Result missing = run({kPvctl, "--socket"}, 10s);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--socket needs a value"), std::string::npos) << missing.err;
  EXPECT_EQ(run({kPvctl, "--socket=/nonexistent/pvd.sock", "info"}, 10s).exit_code, 2);
  Result create = run({kPvctl, "--socket=/nonexistent/pvd.sock", "create", "-x", "a.cfg"}, 10s);
  EXPECT_EQ(create.exit_code, 2);
  EXPECT_NE(create.err.find("create: unknown option '-x'"), std::string::npos) << create.err;
  EXPECT_EQ(run({kPvctl, "--socket=/nonexistent/pvd.sock", "create", "-c"}, 10s).exit_code, 2);
  Result mode = run({kPvctl, "--socket=/nonexistent/pvd.sock", "network", "create", "n1", "--mode"}, 10s);
  EXPECT_EQ(mode.exit_code, 2);
  EXPECT_NE(mode.err.find("--mode needs a value"), std::string::npos) << mode.err;
}

TEST(PvctlCli, SocketTakesItsValueEitherWay) {
  for (const std::vector<std::string>& argv :
       {std::vector<std::string>{kPvctl, "--socket=/nonexistent/pvd.sock", "list"},
        std::vector<std::string>{kPvctl, "--socket", "/nonexistent/pvd.sock", "list", "--json"}}) {
    Result r = run(argv, 10s);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.err.find("cannot reach pvd at /nonexistent/pvd.sock"), std::string::npos) << r.err;
  }
}

TEST(PvdCli, OptionsAndUsageErrors) {
  Result unknown = run({kPvd, "--bogus"}, 10s);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown option --bogus"), std::string::npos) << unknown.err;
  Result missing = run({kPvd, "--state-dir"}, 10s);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("--state-dir needs a value"), std::string::npos) << missing.err;
  // --opt=value reaches the check of the pv-hv path.
  Result eq = run({kPvd, "--state-dir=/nonexistent", "--socket=/nonexistent/pvd.sock", "--pv-hv=/nonexistent/pv-hv"},
                  10s);
  EXPECT_EQ(eq.exit_code, 1);
  EXPECT_NE(eq.err.find("pv-hv not found at /nonexistent/pv-hv"), std::string::npos) << eq.err;
  EXPECT_EQ(run({kPvd, "--help"}, 10s).exit_code, 0);
}

}  // namespace
