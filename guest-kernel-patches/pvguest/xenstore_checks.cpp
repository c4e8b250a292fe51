// pvguest: `xenstore` mode. In-guest checks of the xenbus client against
// the host's xenstored: `PASS/FAIL xenstore <name>` lines and a summary.
#include <xen/xs_wire.h>

#include "console.h"
#include "kernel.h"
#include "lib.h"
#include "modes.h"
#include "pvtime.h"
#include "report.h"
#include "xenbus.h"

namespace {
constexpr uint64_t kMs = 1000000ull;
constexpr int kENOENT = -int(xen::XEN_ENOENT);
Report R{"xenstore "};
bool no_server = false;  // the first request timed out: fail the rest at once
char buf[4200];

const char* en(int rc) { return xenbus::error_name(rc); }

// false (and FAIL name) when there is no point in talking to the server.
bool usable(const char* name) {
  if (!no_server) return true;
  R.fail(name, "xenstored did not answer the first request");
  return false;
}

// True if `name` is among the NUL-separated `count` strings in list.
bool listed(const char* list, unsigned count, const char* name) {
  for (unsigned i = 0; i < count; i++, list += strlen(list) + 1)
    if (lib::strcmp(list, name) == 0) return true;
  return false;
}

void check_domain_path() {
  char want[32];
  lib::snprintf(want, sizeof want, "/local/domain/%u", k::domid);
  int rc = xenbus::get_domain_path(k::domid, buf, sizeof buf);
  if (rc == -int(xen::XEN_ETIMEDOUT)) no_server = true;
  R.check(rc == 0 && lib::strcmp(buf, want) == 0, "domain_path", "rc=%s path='%s' want '%s'", en(rc),
          rc ? "" : buf, want);
}

void check_write_read() {
  if (!usable("write_read")) return;
  int w = xenbus::write("data/test", "hello xenstore");
  size_t n = 0;
  int r = xenbus::read("data/test", buf, sizeof buf, &n);
  R.check(w == 0 && r == 0 && n == 14 && lib::strcmp(buf, "hello xenstore") == 0, "write_read",
          "write=%s read=%s len=%zu value='%s'", en(w), en(r), n, r ? "" : buf);
}

void check_directory() {
  if (!usable("directory")) return;
  unsigned count = 0;
  int rc = xenbus::directory("data", buf, sizeof buf, &count);
  R.check(rc == 0 && listed(buf, count, "test"), "directory", "rc=%s %u entries, 'test' listed=%d", en(rc), count,
          rc == 0 && listed(buf, count, "test"));
}

void check_perms() {
  if (!usable("perms")) return;
  char owner[16];
  lib::snprintf(owner, sizeof owner, "n%u", k::domid);
  const char* const perms[] = {owner, "r0"};
  int s = xenbus::set_perms("data/test", perms, 2);
  unsigned count = 0;
  int g = xenbus::get_perms("data/test", buf, sizeof buf, &count);
  bool same = g == 0 && count == 2 && lib::strcmp(buf, owner) == 0 && lib::strcmp(buf + strlen(buf) + 1, "r0") == 0;
  R.check(s == 0 && same, "perms", "set=%s get=%s count=%u first='%s'", en(s), en(g), count, g ? "" : buf);
}

// A value longer than the 1024-byte ring (but within xenstored's usual
// 2048-byte node quota): the request and the reply both go in pieces.
void check_large_value() {
  if (!usable("large_value")) return;
  static char big[1800];
  for (size_t i = 0; i < sizeof big; i++) big[i] = char('a' + i % 26);
  int w = xenbus::write_bytes("data/big", big, sizeof big);
  size_t n = 0;
  int r = xenbus::read("data/big", buf, sizeof buf, &n);
  bool same = r == 0 && n == sizeof big && memcmp(buf, big, sizeof big) == 0;
  int d = xenbus::rm("data/big");
  R.check(w == 0 && same && d == 0, "large_value", "write=%s read=%s len=%zu same=%d rm=%s", en(w), en(r), n, same,
          en(d));
}

void check_rm() {
  if (!usable("rm_enoent")) return;
  int d = xenbus::rm("data/test");
  int r = xenbus::read("data/test", buf, sizeof buf);
  R.check(d == 0 && r == kENOENT, "rm_enoent", "rm=%s read after rm=%s", en(d), en(r));
}

struct WatchLog {
  unsigned events;
  char path[64];
};
void on_watch(const char* path, const char*, void* arg) {
  auto* log = static_cast<WatchLog*>(arg);
  log->events++;
  size_t n = lib::strnlen(path, sizeof log->path - 1);
  memcpy(log->path, path, n);
  log->path[n] = 0;
}
// Waits until log.events >= want (events are delivered by wait_events).
bool wait_watch(const WatchLog& log, unsigned want, uint64_t timeout_ns) {
  uint64_t end = pvclock::now() + timeout_ns;
  while (log.events < want) {
    uint64_t now = pvclock::now();
    if (now >= end || xenbus::wait_events(end - now) < 0) return log.events >= want;
  }
  return true;
}

void check_watch() {
  if (!usable("watch")) return;
  static WatchLog log;
  int rc = xenbus::watch("data/w", "xstest-w", on_watch, &log);
  bool initial = rc == 0 && wait_watch(log, 1, 2000 * kMs);
  unsigned after_initial = log.events;
  int w = xenbus::write("data/w", "1");
  bool fired = w == 0 && wait_watch(log, after_initial + 1, 2000 * kMs);
  int u = xenbus::unwatch("data/w", "xstest-w");
  R.check(rc == 0 && initial && fired && u == 0 && lib::strcmp(log.path, "data/w") == 0, "watch",
          "watch=%s initial event=%d write=%s event after write=%d unwatch=%s events=%u last path='%s'", en(rc),
          initial, en(w), fired, en(u), log.events, log.path);
  xenbus::rm("data/w");
}

void check_transaction() {
  if (!usable("transaction")) return;
  xenbus::rm("data/tx");
  int s = 0, wa = 0, wb = 0, outside = 0, e = 0;
  unsigned attempts = 0;
  do {
    uint32_t tx = 0;
    if ((s = xenbus::transaction_start(tx)) != 0) break;
    wa = xenbus::write("data/tx/a", "A", tx);
    wb = xenbus::write("data/tx/b", "B", tx);
    outside = xenbus::read("data/tx/a", buf, sizeof buf);  // not visible before the commit
    e = xenbus::transaction_end(tx, true);
  } while (e == -int(xen::XEN_EAGAIN) && ++attempts < 5);
  char a[8] = "", b[8] = "";
  int ra = xenbus::read("data/tx/a", a, sizeof a);
  int rb = xenbus::read("data/tx/b", b, sizeof b);
  R.check(s == 0 && wa == 0 && wb == 0 && outside == kENOENT && e == 0 && ra == 0 && rb == 0 &&
              lib::strcmp(a, "A") == 0 && lib::strcmp(b, "B") == 0,
          "transaction", "start=%s writes=%s/%s read outside before commit=%s end=%s (EAGAIN retries %u) reads=%s/%s",
          en(s), en(wa), en(wb), en(outside), en(e), attempts, en(ra), en(rb));
  xenbus::rm("data/tx");
}

void check_dom0_denied() {
  if (!usable("dom0_denied")) return;
  int rc = xenbus::read("/local/domain/0", buf, sizeof buf);
  if (rc == -int(xen::XEN_EACCES) || rc == kENOENT)
    con::printf("xenstore: read /local/domain/0 -> %s\n", en(rc));
  R.check(rc == -int(xen::XEN_EACCES) || rc == kENOENT, "dom0_denied", "read /local/domain/0 rc=%s (want EACCES or ENOENT)",
          en(rc));
}

void check_too_large() {
  if (!usable("too_large")) return;
  static char huge[xen::xenstore::XENSTORE_PAYLOAD_MAX + 1];
  memset(huge, 'x', sizeof huge);
  uint64_t t0 = pvclock::now();
  int rc = xenbus::write_bytes("data/huge", huge, sizeof huge);
  uint64_t ms = (pvclock::now() - t0) / kMs;
  if (rc < 0) con::printf("xenstore: %zu-byte write refused: %s\n", sizeof huge, en(rc));
  R.check(rc < 0 && rc != -int(xen::XEN_ETIMEDOUT) && xenbus::connected(), "too_large",
          "write of %zu bytes rc=%s after %lu ms, ring usable=%d", sizeof huge, en(rc), ms, xenbus::connected());
}
}  // namespace

void run_xenstore_checks() {
  if (!xenbus::init()) {
    R.fail("init", "no xenstore ring advertised (HVM_PARAM_STORE_PFN/STORE_EVTCHN)");
  } else {
    check_domain_path();
    check_write_read();
    check_directory();
    check_perms();
    check_large_value();
    check_rm();
    check_watch();
    check_transaction();
    check_dom0_denied();
    check_too_large();
  }
  con::printf("xenstore: %u passed, %u failed\n", R.passed, R.failed);
}
