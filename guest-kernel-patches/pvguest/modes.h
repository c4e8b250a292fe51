// pvguest: command-line modes (selftest, hostile, xenstore, idle, benchmarks).
#pragma once
#include <stdint.h>

struct Options {
  bool selftest = false;
  bool hostile = false;
  bool xenstore = false;  // xenbus client checks against the host's xenstored
  bool idle = false;      // wait for control/shutdown instead of shutting down
  bool hotplug = false;   // follow devices that appear and go (hotplug.cpp); never returns
  bool xenstore_flood = false;  // push every xenstored quota, hold what it got, then idle
  bool balloon = false;   // follow memory/target with the balloon driver, as `idle` obeys control/shutdown
  bool memtouch = false;  // balloon, with every page held patterned and checked (memtouch.cpp)
  uint64_t freereport_mib = 0;  // freereport=MIB: free-page reporting phases (freereport.cpp)
  uint64_t touchfree_mib = 0;   // touchfree=MIB: use MIB once and free it (freereport.cpp)
  bool pagereport = false;      // pagereport: free-page reporting on from the start
  bool vcpuwork = false;  // count on every online vCPU, following cpu/ and control/shutdown
  uint64_t runstate_s = 0;  // runstate=S: busy for S s, printing the runstate (steal) times
  uint64_t tick_ms = 0;  // tick[=MS]: a counter on the console every MS (100) ms, obeying control/shutdown
  uint32_t shutdown_reason = 0;  // xen::shutdown::poweroff
  uint64_t watchdog_s = 0;
  uint64_t bench_hypercall = 0;
  uint64_t bench_evtchn = 0;
  uint64_t bench_portio = 0;
  uint64_t bench_insn = 0;    // emulated-instruction reference loop
  uint64_t bench_rounds = 1;  // each bench mode runs this many times, interleaved
  char fault = 0;  // fault=ud|pf: take that exception after READY (crash-path test)
};

void run_selftest();
void hostile_early();  // before vCPU0's vcpu_info is registered
void run_hostile();
// hostile_balloon.cpp: refused reservation ops, through hostile's expect().
void hostile_balloon_checks(void (*expect)(const char* name, bool ok, long rc, const char* what),
                            uint64_t past_ram_pfn);
void run_xenstore_checks();
[[noreturn]] void run_xenstore_flood();
[[noreturn]] void run_idle();
// `balloon` / `memtouch` (memtouch.cpp): never return; obey control/shutdown.
[[noreturn]] void run_balloon(bool memtouch);
void run_freereport(uint64_t mib);
// touchfree=MIB: takes MIB, writes every page, frees it (an idle guest that
// once used its memory), prints `TOUCHFREE done kib=K reported_kib=R`.
// The freed pages go back to the host only with free-page reporting on
// (`pagereport`).
void run_touchfree(uint64_t mib);
// hotplug, hotplug-ping=IP (hotplug.cpp, docs/guest-kernel.md).
bool parse_hotplug_option(const char* key, uint64_t klen, const char* val, uint64_t vlen, bool& hotplug);
[[noreturn]] void run_hotplug();
void run_runstate(uint64_t seconds);
[[noreturn]] void run_tick(uint64_t interval_ms);
void bench_hypercall(uint64_t n);
void bench_evtchn(uint64_t n);
void bench_portio(uint64_t n);
void bench_insn(uint64_t n);
// Network modes (net_modes.cpp): net=, ip=, gw=, vif=, netserve, ping=,
// udpsend=, udpecho-to=, nethostile (docs/guest-kernel.md). The parser
// takes the keys it knows; run_net_modes runs them (netserve never returns).
bool parse_net_option(const char* key, uint64_t klen, const char* val, uint64_t vlen);
void run_net_modes();
// Block modes (blkio.cpp, blkhostile.cpp): blkio=<cmds> (repeatable),
// blkhostile, blkfront=<opts> (docs/guest-kernel.md).
bool parse_blk_option(const char* key, uint64_t klen, const char* val, uint64_t vlen);
void run_blk_modes();
void run_blkhostile();
