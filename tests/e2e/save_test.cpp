// Cooperative suspend end to end (issue 15): the reference guest in `tick`
// mode under a real pvd, and pv-hv's control socket asked for a checkpoint
// (pv/control_protocol.h kCheckpoint) as pvd will ask it. The guest obeys
// control/shutdown = suspend, quiesces, calls SCHEDOP_shutdown(suspend),
// gets 1 back (cancelled) and carries on counting with no gap beyond the
// time it was held; a guest that does not suspend in time makes the
// checkpoint fail with ETIMEDOUT and keeps running.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>

#include "pv/control_protocol.h"
#include "pv/fd_passing.h"
#include "pv/unique_fd.h"
#include "process.h"
#include "pvd_fixture.h"
#include "save/domain_stream.h"
#include "storage_fixture.h"

namespace pvtest {
namespace {
namespace ctl = pv::ctl;

// A save op in flight on a pv-hv's control socket: it answers twice.
class SaveOpCall {
 public:
  SaveOpCall(const std::string& path, ctl::Op op, uint64_t value, int pass_fd = -1) {
    fd_.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("connect " + path + ": " + std::strerror(errno));
    const ctl::Request req{ctl::kMagic, static_cast<uint32_t>(op), value};
    if (!pv::send_with_fds(fd_.get(), req, pass_fd >= 0 ? std::vector<int>{pass_fd} : std::vector<int>{}))
      throw std::runtime_error("send: " + std::string(std::strerror(errno)));
  }
  // The next reply; status INT32_MIN if none came in time.
  ctl::Reply reply(std::chrono::milliseconds timeout) {
    ctl::Reply r{};
    r.status = INT32_MIN;
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) == 1 &&
        ::recv(fd_.get(), &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r))
      r.status = INT32_MIN;
    return r;
  }

 private:
  pv::UniqueFd fd_;
};

struct Tick {
  uint64_t n, t_ms, resumed, cancelled;
};

std::vector<Tick> ticks(const std::string& console) {
  static const std::regex re("TICK ([0-9]+) t=([0-9]+) ms resumed=([0-9]+) cancelled=([0-9]+)");
  std::vector<Tick> out;
  for (auto it = std::sregex_iterator(console.begin(), console.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back({std::stoull((*it)[1]), std::stoull((*it)[2]), std::stoull((*it)[3]), std::stoull((*it)[4])});
  return out;
}

class SaveTest : public PvdFixture {
 protected:
  uint32_t create(const std::string& name, const std::string& extra) {
    const auto r = pvctl({"create", config(name, extra)});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return static_cast<uint32_t>(std::stoul(pvctl({"domid", name}).out));
  }
  std::string control_socket(uint32_t domid) { return state_ + "/domains/" + std::to_string(domid) + ".ctl.sock"; }
  bool request_suspend(uint32_t domid) {
    return xs("write", {"/local/domain/" + std::to_string(domid) + "/control/shutdown", "suspend"}).exit_code == 0;
  }
  // The domain `name` now is a new one (not `old_id`) resumed from a save
  // or snapshot: its suspend returned 0 and it counts on from `last` + 1.
  void expect_resumed_from(const std::string& name, uint32_t old_id, uint64_t last) {
    const uint32_t again = static_cast<uint32_t>(std::stoul(pvctl({"domid", name}).out));
    EXPECT_NE(again, old_id);
    ASSERT_TRUE(console_has(again, "SUSPEND resumed rc=0", 30s)) << console(again);
    ASSERT_TRUE(console_has(again, "TICK " + std::to_string(last + 3) + " ", 30s)) << console(again);
    const auto after = ticks(console(again));
    ASSERT_FALSE(after.empty());
    EXPECT_EQ(after[0].n, last + 1) << console(again);
  }
  bool ticks_after(uint32_t domid, uint64_t cancelled, size_t more) {
    return eventually(
        [&] {
          size_t after = 0;
          for (const auto& t : ticks(console(domid))) after += t.cancelled >= cancelled;
          return after >= more;
        },
        20s);
  }
};

TEST_F(SaveTest, CheckpointSuspendsTheGuestWhichCarriesOnCountingWithoutAGap) {
  const uint32_t id = create("tick1", "tick=100");
  ASSERT_TRUE(console_has(id, "TICK 3 ")) << console(id);
  const pid_t pid = pid_of("tick1");

  SaveOpCall call(control_socket(id), ctl::Op::kCheckpoint, 20000);
  ASSERT_EQ(call.reply(10s).status, ctl::kArmed);  // pv-hv waits: now the guest is asked
  const auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(request_suspend(id));
  EXPECT_EQ(call.reply(30s).status, 0) << console(id);
  const auto held_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked).count();

  ASSERT_TRUE(console_has(id, "SUSPEND cancelled rc=1")) << console(id);
  ASSERT_TRUE(ticks_after(id, 1, 3)) << console(id);
  EXPECT_TRUE(pid > 0 && ::kill(pid, 0) == 0) << "the domain's pv-hv is gone";

  // The counter goes on from where it was, and the time between the last
  // tick before and the first after is one interval plus the time held.
  const auto all = ticks(console(id));
  for (size_t i = 0; i < all.size(); i++) ASSERT_EQ(all[i].n, i) << console(id);
  bool seen = false;
  for (size_t i = 1; i < all.size(); i++) {
    if (all[i - 1].cancelled == 0 && all[i].cancelled == 1) {
      seen = true;
      EXPECT_GE(all[i].t_ms, all[i - 1].t_ms);
      EXPECT_LE(all[i].t_ms - all[i - 1].t_ms, 100u + static_cast<uint64_t>(held_ms) + 1000u) << console(id);
      std::cout << "tick gap across the checkpoint: " << all[i].t_ms - all[i - 1].t_ms << " ms (held " << held_ms
                << " ms from the request to the answer)\n";
    }
  }
  EXPECT_TRUE(seen) << console(id);
  EXPECT_EQ(pvctl({"destroy", "tick1"}).exit_code, 0);
}

TEST_F(SaveTest, FrontEndsAreQuiescedAndGoOnAfterACheckpoint) {
  const std::string img = dir_ + "/disk.img";
  std::ofstream(img).close();
  fs::resize_file(img, 8 << 20);
  const auto r = pvctl({"create", config("disk1", "blkio=write,seq,bs=64k,bytes=1m,qd=4,pattern,seed=5,flush tick=100",
                                         "disk = ['format=raw, vdev=xvda, access=rw, target=" + img + "']\n")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const uint32_t id = static_cast<uint32_t>(std::stoul(pvctl({"domid", "disk1"}).out));
  ASSERT_TRUE(console_has(id, "TICK 1 ", 60s)) << console(id);
  SaveOpCall call(control_socket(id), ctl::Op::kCheckpoint, 20000);
  ASSERT_EQ(call.reply(10s).status, ctl::kArmed);
  ASSERT_TRUE(request_suspend(id));
  EXPECT_EQ(call.reply(30s).status, 0) << console(id);
  ASSERT_TRUE(console_has(id, "goes on after a cancelled suspend")) << console(id);  // after the SUSPEND line
  const std::string con = console(id);
  EXPECT_NE(con.find("SUSPEND cancelled rc=1"), std::string::npos) << con;
  EXPECT_NE(con.find("SUSPEND quiescing 1 device(s)"), std::string::npos) << con;
  EXPECT_NE(con.find("quiesced for suspend: 0 in flight"), std::string::npos) << con;
  EXPECT_TRUE(ticks_after(id, 1, 2)) << console(id);
}

TEST_F(SaveTest, AGuestThatDoesNotSuspendFailsTheCheckpointAndKeepsRunning) {
  // watchdog=600: arms a watchdog and blocks, never reading control/shutdown.
  const uint32_t id = create("deaf1", "watchdog=600");
  ASSERT_TRUE(console_has(id, "WATCHDOG armed")) << console(id);
  const pid_t pid = pid_of("deaf1");
  SaveOpCall call(control_socket(id), ctl::Op::kCheckpoint, 1500);
  ASSERT_EQ(call.reply(10s).status, ctl::kArmed);
  ASSERT_TRUE(request_suspend(id));
  EXPECT_EQ(call.reply(30s).status, -ETIMEDOUT);
  EXPECT_TRUE(pid > 0 && ::kill(pid, 0) == 0) << "the domain's pv-hv is gone";
  EXPECT_NE(row("deaf1"), "");
  // The control socket serves on: another checkpoint is taken (and fails the same way).
  SaveOpCall again(control_socket(id), ctl::Op::kCheckpoint, 100);
  EXPECT_EQ(again.reply(10s).status, ctl::kArmed);
  EXPECT_EQ(again.reply(10s).status, -ETIMEDOUT);
}

TEST_F(SaveTest, DestroyingTheDomainEndsAWaitingCheckpoint) {
  const uint32_t id = create("gone1", "watchdog=600");
  ASSERT_TRUE(console_has(id, "WATCHDOG armed")) << console(id);
  SaveOpCall call(control_socket(id), ctl::Op::kCheckpoint, 60000);
  ASSERT_EQ(call.reply(10s).status, ctl::kArmed);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(pvctl({"destroy", "gone1"}).exit_code, 0);
  const auto r = call.reply(30s);
  // pv-hv answers that the domain is gone (or closes the socket as it exits),
  // long before the minute the checkpoint would have waited.
  EXPECT_TRUE(r.status == -ESRCH || r.status == INT32_MIN) << r.status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_TRUE(eventually([&] { return row("gone1").empty(); }, 10s));
}

TEST_F(SaveTest, ASuspendThatComesAfterTheTimeoutIsCancelledNotLost) {
  const uint32_t id = create("late1", "tick=100");
  ASSERT_TRUE(console_has(id, "TICK 2 ")) << console(id);
  const pid_t pid = pid_of("late1");
  SaveOpCall call(control_socket(id), ctl::Op::kCheckpoint, 1);
  ASSERT_EQ(call.reply(10s).status, ctl::kArmed);
  ASSERT_EQ(call.reply(10s).status, -ETIMEDOUT);
  ASSERT_TRUE(request_suspend(id));  // the guest obeys only now
  ASSERT_TRUE(console_has(id, "SUSPEND cancelled rc=1")) << console(id);
  ASSERT_TRUE(ticks_after(id, 1, 2)) << console(id);
  EXPECT_TRUE(pid > 0 && ::kill(pid, 0) == 0) << "the domain's pv-hv is gone";
}

TEST_F(SaveTest, ACheckpointToAFileWritesAStreamTheReaderTakesAndTheGuestGoesOn) {
  vcpus_ = 1;  // the one vCPU's record is checked below (two: ACheckpointToAFileOfTwoBusyVcpus...)
  // maxmem above memory: the frames beyond memory start ballooned out and are not sent.
  const auto created = pvctl({"create", config("file1", "tick=100", "maxmem = 128\n")});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const uint32_t id = static_cast<uint32_t>(std::stoul(pvctl({"domid", "file1"}).out));
  ASSERT_TRUE(console_has(id, "TICK 2 ")) << console(id);
  const std::string path = dir_ + "/file1.pvsave";
  {
    pv::UniqueFd out(::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(out);
    SaveOpCall call(control_socket(id), ctl::Op::kCheckpointToFile, 20000, out.get());
    ASSERT_EQ(call.reply(10s).status, ctl::kArmed);
    const auto asked = std::chrono::steady_clock::now();
    ASSERT_TRUE(request_suspend(id));
    EXPECT_EQ(call.reply(30s).status, 0) << console(id);
    std::cout << "checkpoint to a file: answered after "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked).count()
              << " ms\n";
  }
  ASSERT_TRUE(console_has(id, "SUSPEND cancelled rc=1")) << console(id);
  ASSERT_TRUE(ticks_after(id, 1, 2)) << console(id);

  SaveOpCall query(control_socket(id), ctl::Op::kQueryMemory, 0);
  const ctl::Reply mem = query.reply(10s);
  ASSERT_EQ(mem.status, 0);
  pv::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(in);
  uint64_t frames = 0;
  const auto st = pv::save::read_domain_stream(in.get(), [&](uint64_t, std::string_view d) { frames += d.size() / 4096; });
  EXPECT_EQ(st.config.name(), "file1");
  EXPECT_EQ(st.config.vcpus(), 1u);
  EXPECT_EQ(st.config.maxmem_bytes(), 128ull << 20);
  EXPECT_EQ(st.config.memory_bytes(), 64ull << 20);
  ASSERT_EQ(st.vcpus.size(), 1u);
  EXPECT_TRUE(st.vcpus[0].up());
  EXPECT_EQ(st.vcpus[0].gprs(0), 0u);  // rax: the suspend returns 0 in the restored domain
  EXPECT_NE(st.vcpus[0].cr3(), 0u);
  EXPECT_NE(st.vcpus[0].vcpu_info_gfn(), pv::save::kNoFrame);
  EXPECT_NE(st.xen_pages.shared_info_gfn(), pv::save::kNoFrame);
  EXPECT_GT(st.xen_pages.grant_frame_gfns_size(), 0);
  EXPECT_GT(st.time.system_time_ns(), 0u);
  EXPECT_GT(st.console.out_prod(), 0u);
  // Populated RAM and the Xen pages placed in it, nothing ballooned.
  EXPECT_EQ(frames, st.memory_frames);
  EXPECT_GE(frames, mem.current_pages);
  EXPECT_LT(frames, mem.ram_pages);  // the ballooned half is not in the stream
  EXPECT_LE(frames, mem.current_pages + 1 + static_cast<uint64_t>(st.xen_pages.grant_frame_gfns_size()));
  std::cout << "checkpoint stream: " << fs::file_size(path) << " bytes, " << frames << " frames of "
            << mem.ram_pages << "\n";
}

// A checkpoint file of a ticking one-vCPU domain (memory 64 MiB), the
// domain destroyed afterwards; `before` is its console up to then.
struct Checkpointed {
  std::string path, before;
  ctl::Reply memory;  // the reservation after the checkpoint
};

class RestoreTest : public SaveTest {
 protected:
  Checkpointed checkpoint_and_destroy(const std::string& name) {
    Checkpointed c{dir_ + "/" + name + ".pvsave", "", {}};
    const uint32_t id = create(name, "tick=100");
    EXPECT_TRUE(console_has(id, "TICK 3 ")) << console(id);
    {
      pv::UniqueFd out(::open(c.path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600));
      EXPECT_TRUE(out);
      SaveOpCall call(control_socket(id), ctl::Op::kCheckpointToFile, 20000, out.get());
      EXPECT_EQ(call.reply(10s).status, ctl::kArmed);
      EXPECT_TRUE(request_suspend(id));
      EXPECT_EQ(call.reply(30s).status, 0) << console(id);
    }
    EXPECT_TRUE(ticks_after(id, 1, 2)) << console(id);  // the first domain went on after its checkpoint
    c.before = console(id);
    c.memory = SaveOpCall(control_socket(id), ctl::Op::kQueryMemory, 0).reply(10s);
    EXPECT_EQ(c.memory.status, 0);
    EXPECT_EQ(pvctl({"destroy", name}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return row(name).empty(); }, 10s));
    return c;
  }
  // pv-hv --restore, no xenstore (the guest's xenbus times out and it
  // ticks on its timer), killed by the Process when the test ends.
  std::unique_ptr<Process> restore(const std::string& path, std::vector<std::string> more = {}) {
    std::vector<std::string> argv{kPvHv, "--restore", path};
    argv.insert(argv.end(), more.begin(), more.end());
    return std::make_unique<Process>(argv);
  }
};

TEST_F(RestoreTest, ARestoredDomainResumesFromItsCheckpointAndCountsOnWithoutTimeGoingBack) {
  const Checkpointed c = checkpoint_and_destroy("rest1");
  ASSERT_FALSE(HasFailure());
  // The last tick before the checkpoint: the restored guest goes on from it.
  Tick last{};
  for (const auto& t : ticks(c.before))
    if (t.cancelled == 0) last = t;
  ASSERT_GT(last.n, 0u) << c.before;

  const std::string ctl_sock = dir_ + "/restored.ctl.sock";
  const auto start = std::chrono::steady_clock::now();
  auto hv = restore(c.path, {"--control-socket", ctl_sock});
  ASSERT_TRUE(hv->wait_for_output("restored ", 30s, true)) << "pv-hv did not restore the domain";
  const auto restored_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(hv->wait_for_output("SUSPEND resumed rc=0", 30s)) << "no resume";
  const auto resumed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(hv->wait_for_output("TICK " + std::to_string(last.n + 4) + " ", 30s));
  // The reservation is the saved one: the same frames populated, the same ceiling.
  const ctl::Reply mem = SaveOpCall(ctl_sock, ctl::Op::kQueryMemory, 0).reply(10s);
  EXPECT_EQ(mem.status, 0);
  EXPECT_EQ(mem.current_pages, c.memory.current_pages);
  EXPECT_EQ(mem.maximum_pages, c.memory.maximum_pages);
  EXPECT_EQ(mem.ram_pages, c.memory.ram_pages);
  EXPECT_EQ(mem.ballooned_pages, c.memory.ballooned_pages);
  hv->signal(SIGTERM);
  const Result r = hv->wait(10s);
  EXPECT_EQ(r.exit_code, 7) << r.err;  // destroyed by the signal, not crashed
  std::cout << "restore of a " << fs::file_size(c.path) << "-byte stream: built after " << restored_ms
            << " ms, the guest said it resumed " << resumed_ms << " ms after pv-hv started (its xenbus waits for a xenstore)\n";

  EXPECT_NE(r.err.find("restored "), std::string::npos) << r.err;
  // Guest time across the suspend, as the guest saw it, did not go back.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("SUSPEND resumed rc=0 after [0-9]+ ms \\(guest time ([0-9]+) -> ([0-9]+) ms\\)")))
      << r.out;
  EXPECT_GE(std::stoull(m[2]), std::stoull(m[1]));
  // The counter carries on from where it was at the checkpoint, once resumed,
  // tick by tick, and guest time never goes back.
  const auto after = ticks(r.out);
  ASSERT_GE(after.size(), 4u) << r.out;
  EXPECT_EQ(after[0].n, last.n + 1) << r.out;
  EXPECT_GE(after[0].t_ms, last.t_ms);
  EXPECT_LT(after[0].t_ms, last.t_ms + 1000 + static_cast<uint64_t>(resumed_ms)) << "guest time jumped: " << r.out;
  for (size_t i = 0; i < after.size(); i++) {
    EXPECT_EQ(after[i].n, last.n + 1 + i) << r.out;
    EXPECT_EQ(after[i].resumed, 1u) << r.out;
    EXPECT_EQ(after[i].cancelled, 0u) << r.out;
    if (i) {
      EXPECT_GE(after[i].t_ms, after[i - 1].t_ms) << r.out;
    }
  }
}

TEST_F(RestoreTest, AStreamThatIsDamagedTruncatedOrCannotRunEndsPvHvWithStatus1) {
  const Checkpointed c = checkpoint_and_destroy("rest2");
  ASSERT_FALSE(HasFailure());
  const uint64_t size = fs::file_size(c.path);
  const std::string cut = dir_ + "/cut.pvsave", flipped = dir_ + "/flipped.pvsave";
  fs::copy_file(c.path, cut);
  fs::resize_file(cut, size / 2);
  fs::copy_file(c.path, flipped);
  {
    std::fstream f(flipped, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size / 3));
    const char b = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(size / 3));
    f.put(static_cast<char>(b ^ 0x20));
  }
  for (const auto& [path, why] : {std::pair{cut, "truncated"}, std::pair{flipped, "bad checksum"}}) {
    const Result r = restore(path)->wait(30s);
    EXPECT_EQ(r.exit_code, 1) << path << r.err;
    EXPECT_NE(r.err.find("--restore " + path + ": save stream"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(why), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("SUSPEND resumed"), std::string::npos) << "the guest ran: " << r.out;
  }
  // A stream the reader takes but this domain cannot run: no vCPU up.
  const std::string down = dir_ + "/down.pvsave";
  {
    pv::UniqueFd in(::open(c.path.c_str(), O_RDONLY | O_CLOEXEC));
    std::vector<std::pair<uint64_t, std::string>> runs;
    auto st = pv::save::read_domain_stream(in.get(), [&](uint64_t gfn, std::string_view d) { runs.emplace_back(gfn, d); });
    pv::UniqueFd out(::open(down.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600));
    pv::save::DomainStreamWriter w(out.get(), st.config);
    for (auto& v : st.vcpus) {
      v.set_up(false);
      w.vcpu(v);
    }
    for (const auto& [gfn, d] : runs) w.memory(gfn, d.data(), d.size() / 4096);
    w.hvm_params(st.hvm_params);
    w.xen_pages(st.xen_pages);
    w.time(st.time);
    w.console(st.console);
    w.end();
  }
  const Result none_up = restore(down)->wait(30s);
  EXPECT_EQ(none_up.exit_code, 1);
  EXPECT_NE(none_up.err.find("no vCPU of the saved domain is up"), std::string::npos) << none_up.err;

  // The domain's shape is the stream's: boot options are refused.
  const Result boot = restore(c.path, {"--vcpus", "2"})->wait(30s);
  EXPECT_EQ(boot.exit_code, 1);
  EXPECT_NE(boot.err.find("--vcpus cannot go with it"), std::string::npos) << boot.err;
  EXPECT_TRUE(pv_hv_processes(c.path).empty());
  EXPECT_TRUE(pv_hv_processes(cut).empty());
}

TEST_F(SaveTest, ACheckpointToAFileIsRefusedWithoutAFile) {
  const uint32_t id = create("nofile1", "tick=1000");
  ASSERT_TRUE(console_has(id, "TICK 0 ")) << console(id);
  SaveOpCall none(control_socket(id), ctl::Op::kCheckpointToFile, 1000);
  EXPECT_EQ(none.reply(10s).status, -EBADF);
}

// Two vCPUs, both busy in the guest (vcpuwork): the one that suspends is
// held in its hypercall, the other is paused out of KVM_RUN with its last
// exit finished; both are in the stream, up, and the guest goes on.
TEST_F(SaveTest, ACheckpointToAFileOfTwoBusyVcpusSavesBothAndTheyGoOn) {
  const uint32_t id = create("two1", "vcpuwork");  // 2 vCPUs up
  ASSERT_TRUE(console_has(id, "VCPUWORK cpu1 count=")) << console(id);
  const std::string path = dir_ + "/two1.pvsave";
  {
    pv::UniqueFd out(::open(path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(out);
    SaveOpCall call(control_socket(id), ctl::Op::kCheckpointToFile, 20000, out.get());
    ASSERT_EQ(call.reply(10s).status, ctl::kArmed);
    ASSERT_TRUE(request_suspend(id));
    EXPECT_EQ(call.reply(30s).status, 0) << console(id);
  }
  ASSERT_TRUE(console_has(id, "SUSPEND cancelled rc=1")) << console(id);
  pv::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(in);
  const auto st = pv::save::read_domain_stream(in.get(), [](uint64_t, std::string_view) {});
  ASSERT_EQ(st.vcpus.size(), 2u);
  EXPECT_TRUE(st.vcpus[0].up());
  EXPECT_TRUE(st.vcpus[1].up());
  EXPECT_NE(st.vcpus[1].cr3(), 0u);
  EXPECT_NE(st.vcpus[1].vcpu_info_gfn(), pv::save::kNoFrame);
  // Both vCPUs count on after the checkpoint.
  const auto n = console(id).size();
  EXPECT_TRUE(eventually(
      [&] {
        const std::string after = console(id).substr(n);
        return after.find("VCPUWORK cpu0 ") != std::string::npos && after.find("VCPUWORK cpu1 ") != std::string::npos;
      },
      20s))
      << console(id);
}

TEST_F(SaveTest, BadSaveRequestsAreRefused) {
  const uint32_t id = create("bad1", "tick=1000");
  ASSERT_TRUE(console_has(id, "TICK 0 ")) << console(id);
  SaveOpCall zero(control_socket(id), ctl::Op::kCheckpoint, 0);  // no wait given
  EXPECT_EQ(zero.reply(10s).status, -EINVAL);
  SaveOpCall unknown(control_socket(id), static_cast<ctl::Op>(89), 100);
  EXPECT_EQ(unknown.reply(10s).status, -EINVAL);
}

// pvctl save and restore through pvd, with the reference guest: the
// domain ends at the save, the restored one resumes (rc=0, a new domain)
// and counts on from the last tick before the save. (The toolstack side
// is also tested without KVM: pvd_save_double_test.cpp.)
TEST_F(SaveTest, PvctlSaveEndsTheDomainAndRestoreResumesItsCounter) {
  const uint32_t id = create("tick9", "tick=100");
  ASSERT_TRUE(console_has(id, "TICK 3 ")) << console(id);
  const std::string file = dir_ + "/tick9.save";
  const Result s = pvctl({"save", "tick9", file});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(row("tick9"), "");
  uint64_t last = 0;
  for (const auto& t : ticks(console(id))) last = t.n;
  ASSERT_GT(last, 0u);
  const Result r = pvctl({"restore", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  expect_resumed_from("tick9", id, last);
  EXPECT_EQ(pvctl({"destroy", "tick9"}).exit_code, 0);
}

// Both vCPUs busy (vcpuwork) through pvctl save and restore: each goes on
// counting from where it was (its registers and its count in guest memory
// were saved), on a restored domain whose IPIs the guest bound again.
TEST_F(SaveTest, PvctlSaveAndRestoreOfTwoBusyVcpusGoesOnWhereEachWas) {
  static const std::regex count_re("VCPUWORK cpu([01]) count=([0-9]+)");
  auto last_counts = [&](const std::string& text) {
    std::array<uint64_t, 2> last{0, 0};
    for (auto it = std::sregex_iterator(text.begin(), text.end(), count_re); it != std::sregex_iterator(); ++it)
      last[std::stoul((*it)[1])] = std::stoull((*it)[2]);
    return last;
  };
  const uint32_t id = create("work9", "vcpuwork");
  ASSERT_TRUE(eventually([&] { return last_counts(console(id))[1] > 0; }, 30s)) << console(id);
  const std::string file = dir_ + "/work9.save";
  const Result s = pvctl({"save", "work9", file});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const auto before = last_counts(console(id));
  const Result r = pvctl({"restore", file});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const uint32_t again = static_cast<uint32_t>(std::stoul(pvctl({"domid", "work9"}).out));
  ASSERT_TRUE(console_has(again, "SUSPEND resumed rc=0", 30s)) << console(again);
  // Each vCPU prints again, counting on from at least where it was.
  ASSERT_TRUE(eventually(
      [&] {
        const auto now = last_counts(console(again));
        return now[0] > before[0] && now[1] > before[1];
      },
      30s))
      << "before: " << before[0] << " " << before[1] << "\n" << console(again);
  const Result list = pvctl({"vcpu-list", "work9"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(pvctl({"destroy", "work9"}).exit_code, 0);
}

// A domain snapshot: the guest writes a pattern to its disk and ticks;
// snapshot-create freezes its memory and the disk at one instant (the disk
// goes on in an overlay over the image as it was); revert brings back that
// memory (the counter goes on from the last tick before the snapshot) on a
// new overlay over the frozen image; delete forgets the memory state.
TEST_F(SaveTest, ASnapshotRevertBringsBackTheMemoryAndTheDiskOfItsInstant) {
  const std::string img = dir_ + "/snap.img";
  std::ofstream(img, std::ios::binary).seekp((16 << 20) - 1).put('\0');
  const std::string disk = "disk = [ 'format=raw, vdev=xvda, access=rw, target=" + img + "' ]\n";
  ASSERT_EQ(pvctl({"create", config("snap1", "blkio=write,seq,bs=64k,bytes=1m,pattern,seed=41,flush tick=100", disk)}).exit_code, 0);
  const uint32_t id = static_cast<uint32_t>(std::stoul(pvctl({"domid", "snap1"}).out));
  ASSERT_TRUE(console_has(id, "BLKIO DONE cmds=1 failed=0", 60s)) << console(id);
  ASSERT_TRUE(console_has(id, "TICK 3 ", 30s)) << console(id);

  const Result made = pvctl({"snapshot-create", "snap1", "s1"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_NE(made.out.find("xvda: " + img + " (raw)"), std::string::npos) << made.out;
  uint64_t at = 0;  // the last tick before the snapshot
  for (const auto& t : ticks(console(id)))
    if (t.cancelled == 0) at = t.n;
  ASSERT_GT(at, 0u);
  ASSERT_TRUE(ticks_after(id, 1, 5)) << console(id);  // it went on, in the overlay
  const std::string overlay = dir_ + "/snap.s1.qcow2";
  EXPECT_TRUE(fs::exists(overlay));
  EXPECT_NE(pvctl({"info", "snap1"}).out.find("disk xvda: " + overlay), std::string::npos);
  EXPECT_NE(pvctl({"snapshot-list", "snap1"}).out.find("s1 "), std::string::npos);
  // Refused: the same name again, a bad name, an unknown snapshot.
  EXPECT_NE(pvctl({"snapshot-create", "snap1", "s1"}).exit_code, 0);
  EXPECT_NE(pvctl({"snapshot-create", "snap1", "../x"}).exit_code, 0);
  EXPECT_NE(pvctl({"snapshot-revert", "snap1", "nope"}).exit_code, 0);

  const Result back = pvctl({"snapshot-revert", "snap1", "s1"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  expect_resumed_from("snap1", id, at);
  // Its disk: a new overlay over the frozen image, which holds the pattern.
  const std::string info = pvctl({"info", "snap1"}).out;
  const auto from = info.find("disk xvda: " + dir_ + "/snap.s1.revert-");
  ASSERT_NE(from, std::string::npos) << info;
  const std::string revert = info.substr(from + 11, info.find(',', from) - from - 11);
  const Result q = run({"/usr/bin/env", "qemu-img", "info", "-U", revert}, 30s);
  EXPECT_NE(q.out.find("backing file: " + img), std::string::npos) << q.out;
  EXPECT_EQ(check_guest_pattern(img, 0, 2048, 41), "");

  const Result del = pvctl({"snapshot-delete", "snap1", "s1"});
  EXPECT_EQ(del.exit_code, 0) << del.err;
  EXPECT_EQ(pvctl({"snapshot-list", "snap1"}).out, "");
  EXPECT_TRUE(fs::exists(img) && fs::exists(overlay) && fs::exists(revert));  // the disks stay
  EXPECT_EQ(pvctl({"destroy", "snap1"}).exit_code, 0);
}

}  // namespace
}  // namespace pvtest
