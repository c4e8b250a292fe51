// pvd protects what it does not own, and the admin API carries only UTF-8
// (issue 12): one pvd per state directory and per socket, nothing at a
// socket path is removed unless it is a stale socket, strings that are not
// UTF-8 are refused by the side that finds them, relative paths in a
// configuration are made absolute by pvctl, domain IDs are not reused, and
// xl's Domain-0 row, domid, domname and uptime. None of this boots a guest:
// it runs without /dev/kvm.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <regex>
#include <string>

#include "pvd_fixture.h"
#include "registry.pb.h"

namespace {

using namespace pvtest;

// A real pvd and pvctl, no guest (so no /dev/kvm needed).
class PvdGuard : public PvdFixture {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pvd-guard.XXXXXX";
    dir_ = mkdtemp(tmpl);
    state_ = dir_ + "/state";
    socket_ = dir_ + "/pvd.sock";
    start_pvd();
  }

  // Another pvd, run to its end (it should refuse to start).
  Result second_pvd(const std::string& state, const std::string& socket, std::vector<std::string> more = {}) {
    std::vector<std::string> argv = {kPvd, "--state-dir", state, "--socket", socket, "--pv-hv", kPvHv};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, 10s);
  }

  // Sends `frames` on one connection, half-closes it and returns all pvd sent.
  std::string raw(const std::string& frames) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket_.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::send(fd, frames.data(), frames.size(), MSG_NOSIGNAL), static_cast<ssize_t>(frames.size()));
    ::shutdown(fd, SHUT_WR);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return got;
  }

  std::string last_domid() { return slurp(state_ + "/last-domid"); }

  // A configuration that parses; kernel and extra lines as given.
  std::string write_config(const std::string& path, const std::string& body) {
    std::ofstream(path, std::ios::binary) << body;
    return path;
  }
};

// A protobuf length-delimited field (all lengths here are < 128).
std::string field(int number, const std::string& bytes) {
  return std::string(1, static_cast<char>(number << 3 | 2)) + static_cast<char>(bytes.size()) + bytes;
}
// One admin frame: api_version 1 and `op`.
std::string frame(const std::string& op) {
  const std::string payload = std::string("\x08\x01", 2) + op;
  return static_cast<char>(payload.size()) + payload;
}

TEST_F(PvdGuard, ASecondPvdOnTheSameStateDirIsRefused) {
  const std::string other_socket = dir_ + "/other.sock";
  Result r = second_pvd(state_, other_socket);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("another pvd (pid " + std::to_string(pvd_->pid()) + ") is using the state directory " + state_),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(other_socket));
  EXPECT_EQ(pvctl({"list"}).exit_code, 0);  // the first one carries on
}

TEST_F(PvdGuard, ASecondPvdOnALiveSocketIsRefused) {
  Result r = second_pvd(dir_ + "/state2", socket_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("refusing --socket " + socket_ + ": a server is live on it"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::is_socket(socket_));
  EXPECT_EQ(pvctl({"list"}).exit_code, 0);
  // The same for the live pvd's xenstored socket.
  const std::string xs_socket = state_ + "/xenstored.sock";
  Result x = second_pvd(dir_ + "/state3", dir_ + "/third.sock", {"--xenstore-socket", xs_socket});
  EXPECT_EQ(x.exit_code, 1) << x.err;
  EXPECT_NE(x.err.find("refusing --xenstore-socket " + xs_socket + ": a server is live on it"), std::string::npos)
      << x.err;
  EXPECT_TRUE(fs::is_socket(xs_socket));
  EXPECT_EQ(xs("write", {"/guard", "still-served"}).exit_code, 0);
  EXPECT_EQ(xs("read", {"/guard"}).out, "still-served\n");
}

TEST_F(PvdGuard, AFileOrDirectoryAtASocketPathSurvives) {
  const std::string file = dir_ + "/precious", directory = dir_ + "/adir";
  std::ofstream(file) << "not pvd's";
  fs::create_directory(directory);
  std::ofstream(directory + "/inside") << "kept";
  int n = 0;
  for (const auto& [option, path, kind] : {std::tuple{"--socket", file, "a regular file"},
                                           std::tuple{"--socket", directory, "a directory"},
                                           std::tuple{"--xenstore-socket", file, "a regular file"}}) {
    const std::string opt = option, state = dir_ + "/state-" + std::to_string(++n);
    Result r = opt == "--socket" ? second_pvd(state, path)
                                 : second_pvd(state, dir_ + "/x.sock", {"--xenstore-socket", path});
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("refusing " + opt + " " + path + ": it is " + kind + ", not a socket; pvd leaves it alone"),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(slurp(file), "not pvd's");
  EXPECT_EQ(slurp(directory + "/inside"), "kept");
  EXPECT_FALSE(fs::exists(dir_ + "/x.sock"));
}

TEST_F(PvdGuard, AStaleSocketAndLockOfAKilledPvdAreTakenOver) {
  pvd_->signal(SIGKILL);
  pvd_.reset();
  ASSERT_TRUE(fs::is_socket(socket_));  // left behind, nobody answers on it
  start_pvd();
  EXPECT_EQ(pvctl({"list"}).exit_code, 0);
}

TEST_F(PvdGuard, ArgumentsThatAreNotUtf8AreRefusedByPvctl) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{"info", "caf\xe9"},
                                               std::vector<std::string>{"create", dir_ + "/\xff.cfg"},
                                               std::vector<std::string>{"destroy", "\xc0\xaf"}}) {
    Result r = pvctl(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("is not valid UTF-8"), std::string::npos) << r.err;
  }
  EXPECT_EQ(pvctl({"info", "caf\xc3\xa9"}).exit_code, 1);  // valid UTF-8: pvd answers (no such domain)
}

TEST_F(PvdGuard, ConfigurationsThatAreNotUtf8AreRefusedByPvctl) {
  const std::string name = write_config(dir_ + "/name.cfg", "# latin-1\nname = \"caf\xe9\"\nmemory = 64\nkernel = \"" +
                                                                kGuest + "\"\n");
  Result r = pvctl({"create", name});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(name + ":2: not valid UTF-8 (byte \\xe9 at column 12"), std::string::npos) << r.err;
  const std::string path = write_config(dir_ + "/path.cfg", "name = \"p\"\nmemory = 64\nkernel = \"/boot/\xff\xfe\"\n");
  Result p = pvctl({"create", path});
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find(path + ":3: not valid UTF-8 (byte \\xff"), std::string::npos) << p.err;
  EXPECT_EQ(pvctl({"domid", "p"}).exit_code, 1);  // nothing was created
  EXPECT_TRUE(fs::is_empty(state_ + "/domains"));
}

TEST_F(PvdGuard, RawRequestsWithBadStringsAreRefusedByPvd) {
  // info { name_or_id: "\xff\xfe" }, then a good list on the same connection.
  const std::string bad_info = frame(field(9, field(1, "\xff\xfe")));
  const std::string list = frame(std::string("\x1a\x00", 2));
  const std::string got = raw(bad_info + list);
  EXPECT_NE(got.find(std::string("\x10\x01", 2)), std::string::npos);  // error: ERROR_BAD_REQUEST
  EXPECT_NE(got.find("pv.admin.DomainRef.name_or_id is not valid UTF-8"), std::string::npos) << got;
  EXPECT_NE(got.find("Domain-0"), std::string::npos) << "the connection was not served on";
  // create { config_text: "name = \"\xe9\"" }
  const std::string bad_create = frame(field(2, field(1, "name = \"\xe9\"\n")));
  EXPECT_NE(raw(bad_create).find("pv.admin.CreateRequest.config_text is not valid UTF-8"), std::string::npos);
  EXPECT_TRUE(alive(pvd_->pid()));
  EXPECT_EQ(pvctl({"list"}).exit_code, 0);
}

// A reason pvd did not write itself (pv-hv's status file) may hold any
// bytes: they reach neither a reply nor a record unrepaired, so listings
// keep parsing and the record keeps loading.
TEST_F(PvdGuard, AStatusThatIsNotUtf8BreaksNothing) {
  pvd_.reset();
  pv::registry::DomainRecord rec;  // a domain that ended while pvd was away
  rec.set_domid(7);
  rec.set_name("odd");
  rec.set_config_text("name = \"odd\"\nmemory = 64\nkernel = \"" + kGuest + "\"\non_crash = \"preserve\"\n");
  rec.set_config_path("odd.cfg");
  rec.set_state(pv::admin::STATE_RUNNING);
  rec.set_uuid("6e8a1a6b-1c5c-4b7d-9d7e-3f0a2b1c4d5e");
  std::ofstream(state_ + "/domains/7.rec", std::ios::binary) << rec.SerializeAsString();
  std::ofstream(state_ + "/domains/7.status", std::ios::binary) << "9 caf\xe9\n";
  start_pvd();
  ASSERT_TRUE(eventually([&] { return row("odd").find("---s--") != std::string::npos; }, 10s)) << row("odd");
  Result i = pvctl({"info", "odd"});
  EXPECT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("shutdown reason: caf\xef\xbf\xbd\n"), std::string::npos) << i.out;
  EXPECT_EQ(pvctl({"list", "--json"}).exit_code, 0);
  pvd_.reset();  // the record it saved loads again
  start_pvd();
  EXPECT_NE(row("odd").find("---s--"), std::string::npos) << row("odd");
  EXPECT_EQ(pvctl({"destroy", "odd"}).exit_code, 0);
}

TEST_F(PvdGuard, RelativePathsAreTakenFromTheConfigFilesDirectory) {
  fs::create_directory(dir_ + "/cfgs");
  fs::create_symlink(kGuest, dir_ + "/cfgs/guest.elf");
  write_config(dir_ + "/cfgs/rel.cfg",
               "name = \"rel\"\nmemory = 64\nkernel = \"guest.elf\"  # beside this file\n"
               "disk = [ 'format=raw, vdev=xvda, access=rw, target=images/missing.img' ]\n");
  // From another working directory, with a relative path to the file.
  const std::string rel_cfg = fs::path(dir_ + "/cfgs/rel.cfg").lexically_relative("/").string();
  Result r = run({"/bin/sh", "-c", "cd / && exec \"$0\" --socket \"$1\" create \"$2\"", kPvctl, socket_, rel_cfg}, 30s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(rel_cfg + ": disk xvda: target " + dir_ + "/cfgs/images/missing.img does not exist"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("kernel: guest.elf -> " + dir_ + "/cfgs/guest.elf"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("target images/missing.img -> " + dir_ + "/cfgs/images/missing.img"), std::string::npos)
      << r.err;
}

TEST_F(PvdGuard, Domain0IsListedAndNamed) {
  const long mib = ::sysconf(_SC_PHYS_PAGES) * ::sysconf(_SC_PAGESIZE) >> 20;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  const std::string row0 = row("Domain-0");
  EXPECT_TRUE(std::regex_search(row0, std::regex("^Domain-0 +0 +" + std::to_string(mib) + " +" +
                                                 std::to_string(cpus) + " +r----- +[0-9.]+$")))
      << row0;
  EXPECT_NE(pvctl({"list", "--json"}).out.find("{\"name\": \"Domain-0\", \"id\": 0, \"mem\": " + std::to_string(mib)),
            std::string::npos);
  EXPECT_EQ(pvctl({"domid", "Domain-0"}).out, "0\n");
  EXPECT_EQ(pvctl({"domname", "0"}).out, "Domain-0\n");
  EXPECT_NE(pvctl({"info", "Domain-0"}).out.find("name: Domain-0\nid: 0\n"), std::string::npos);
  Result none = pvctl({"domid", "nosuch"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no domain named 'nosuch'"), std::string::npos) << none.err;
  EXPECT_EQ(pvctl({"domname", "7"}).exit_code, 1);
  EXPECT_EQ(pvctl({"domname", "web"}).exit_code, 2);
  const std::string twin = write_config(dir_ + "/twin.cfg", "name = \"Domain-0\"\nmemory = 64\nkernel = \"" + kGuest + "\"\n");
  Result dup = pvctl({"create", twin});
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("a domain named 'Domain-0' already exists"), std::string::npos) << dup.err;
  Result kill0 = pvctl({"destroy", "Domain-0"});
  EXPECT_EQ(kill0.exit_code, 1);
  EXPECT_NE(kill0.err.find("Domain-0 is the host itself"), std::string::npos) << kill0.err;
}

TEST_F(PvdGuard, UptimeIsXls) {
  Result u = pvctl({"uptime"});
  ASSERT_EQ(u.exit_code, 0) << u.err;
  std::istringstream in(u.out);
  std::string header, dom0;
  std::getline(in, header);
  std::getline(in, dom0);
  EXPECT_TRUE(std::regex_match(header, std::regex("Name +ID Uptime"))) << header;
  EXPECT_TRUE(std::regex_match(dom0, std::regex("Domain-0 +0 ([0-9]+ days?, )?[ 0-9][0-9]:[0-9]{2}:[0-9]{2}"))) << dom0;
  // The host's uptime, within a minute.
  const double host = std::stod(slurp("/proc/uptime"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom0, m, std::regex("(([0-9]+) days?, )?([ 0-9][0-9]):([0-9]{2}):([0-9]{2})$")));
  const double shown = (m[2].matched ? std::stod(m[2]) * 86400 : 0) + std::stod(m[3]) * 3600 + std::stod(m[4]) * 60 +
                       std::stod(m[5]);
  EXPECT_NEAR(shown, host, 60);
  Result s = pvctl({"uptime", "-s", "Domain-0"});
  EXPECT_TRUE(std::regex_match(s.out, std::regex(" [0-9]{2}:[0-9]{2}:[0-9]{2} up .*, Domain-0 \\(0\\)\n"))) << s.out;
  EXPECT_EQ(pvctl({"uptime", "nosuch"}).exit_code, 1);
}

TEST_F(PvdGuard, ShutdownOptionsAsXl) {
  EXPECT_EQ(pvctl({"shutdown", "-a"}).exit_code, 0);  // nothing runs: nothing to do
  EXPECT_EQ(pvctl({"shutdown", "-a", "-w", "--timeout", "5"}).exit_code, 0);
  EXPECT_EQ(pvctl({"shutdown", "--all", "web"}).exit_code, 2);
  Result t = pvctl({"shutdown", "-w", "--timeout", "soon", "web"});
  EXPECT_EQ(t.exit_code, 2);
  EXPECT_NE(t.err.find("--timeout takes whole seconds"), std::string::npos) << t.err;
  EXPECT_EQ(pvctl({"shutdown", "-x", "web"}).exit_code, 2);
  Result none = pvctl({"shutdown", "-w", "web"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no domain named 'web'"), std::string::npos) << none.err;
  EXPECT_EQ(pvctl({"shutdown", "Domain-0"}).exit_code, 1);
}

// The last ID given out is kept in the state dir: a new domain gets the
// next one, after a pvd restart too, and the ID space wraps to 1. Whether
// the domain then runs needs /dev/kvm; its ID is given before it starts.
TEST_F(PvdGuard, DomainIdsGoOnAcrossRestartsAndWrap) {
  pvd_.reset();
  std::ofstream(state_ + "/last-domid") << "41\n";
  start_pvd();
  const std::string missing_disk = write_config(
      dir_ + "/nodisk.cfg", "name = \"nodisk\"\nmemory = 64\nkernel = \"" + kGuest +
                                "\"\ndisk = [ 'vdev=xvda, target=" + dir_ + "/none.img' ]\n");
  EXPECT_EQ(pvctl({"create", missing_disk}).exit_code, 1);
  EXPECT_EQ(last_domid(), "41\n");  // a create refused before it started took no ID
  auto create = [&](const std::string& name, uint32_t expected) {
    const std::string cfg =
        write_config(dir_ + "/" + name + ".cfg", "name = \"" + name + "\"\nmemory = 64\nkernel = \"" + kGuest + "\"\n");
    Result r = pvctl({"create", cfg});
    if (r.exit_code == 0) {
      EXPECT_NE(r.out.find("(id " + std::to_string(expected) + ")"), std::string::npos) << r.out;
    }
    EXPECT_EQ(last_domid(), std::to_string(expected) + "\n") << r.err;
  };
  create("first", 42);
  pvd_->signal(SIGKILL);
  pvd_.reset();
  start_pvd();
  create("second", 43);
  pvd_.reset();
  std::ofstream(state_ + "/last-domid") << "32751\n";  // 0x7fef, the highest
  start_pvd();
  create("third", 1);
}

}  // namespace
