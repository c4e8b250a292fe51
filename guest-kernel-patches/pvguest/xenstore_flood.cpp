// pvguest: `xenstore-flood` mode. A hostile xenbus client: it pushes each
// xenstored quota until the server refuses, and then keeps everything it
// got (nodes, watches, transactions) while it idles, so the host can check
// that other domains and dom0 clients are unaffected meanwhile.
//
// Output: one `FLOOD <what>: refused after N (<error>)` line per quota, a
// `FAIL xenstore-flood <what>: ...` line for each quota not answered with an
// error (a timeout, a broken ring, or no refusal at all), and
// `xenstore-flood: N passed, M failed`. N counts successful requests before
// the refusal, except for entry-size, where it is the largest value (bytes)
// accepted. Then, as `idle`, it obeys control/shutdown.
#include <xen/sched.h>
#include <xen/xs_wire.h>

#include "console.h"
#include "control.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "modes.h"
#include "xenbus.h"

namespace {
constexpr uint64_t kIdleWaitNs = 60000000000ull;
// Attempt bounds: each far beyond Xen's default quota, so "never refused"
// is a failure rather than an endless loop.
constexpr unsigned kMaxNodes = 1100;         // Xen: 1000 nodes per domain
constexpr unsigned kMaxWatches = 200;        // Xen: 128 watches per connection
constexpr unsigned kMaxTransactions = 20;    // Xen: 10 transactions per connection
constexpr size_t kEntrySizes[] = {1, 1024, 2048, 2049, 3072, 4000};  // Xen: 2048 bytes

unsigned passed = 0, failed = 0;
char value[4096];
char path[64];
uint32_t txs[kMaxTransactions];

const char* en(int rc) { return xenbus::error_name(rc); }

// The server still answers this connection: a node written before the
// flood reads back.
bool still_served() {
  char v[16];
  return xenbus::read("data/flood/alive", v, sizeof v) == 0 && lib::strcmp(v, "yes") == 0;
}

// A quota passes when the server refused with an error (not a timeout or a
// broken ring) and keeps serving the connection afterwards.
void result(const char* what, bool refused, unsigned n, int rc) {
  if (refused) con::printf("FLOOD %s: refused after %u (%s)\n", what, n, en(rc));
  bool ok = refused && rc != -int(xen::XEN_ETIMEDOUT) && rc != -int(xen::XEN_EIO) && xenbus::connected();
  bool served = ok && still_served();
  if (ok && served) {
    passed++;
    return;
  }
  failed++;
  if (!refused)
    con::printf("FAIL xenstore-flood %s: never refused (%u accepted)\n", what, n);
  else
    con::printf("FAIL xenstore-flood %s: refused with %s, ring usable=%d, still served=%d\n", what, en(rc),
                xenbus::connected(), served);
}

// (b) Values of growing size on one node until one is refused.
void flood_entry_size() {
  size_t accepted = 0;
  int rc = 0;
  bool refused = false;
  memset(value, 'v', sizeof value);
  for (size_t len : kEntrySizes) {
    rc = xenbus::write_bytes("data/flood/entry", value, len);
    if (rc) {
      refused = true;
      break;
    }
    accepted = len;
  }
  result("entry-size", refused, unsigned(accepted), rc);
}

// (a) New nodes until the domain's node quota is used up.
void flood_nodes() {
  unsigned n = 0;
  int rc = 0;
  for (; n < kMaxNodes; n++) {
    lib::snprintf(path, sizeof path, "data/flood/n%u", n);
    if ((rc = xenbus::write(path, "x")) != 0) break;
  }
  result("nodes", rc != 0, n, rc);
}

// (c) Watches until the connection's watch quota is used up. The client
// keeps only a few watches of its own (xenbus::kMaxWatches), so each flood
// watch is forgotten locally at once: an UNWATCH of a path it does not
// watch fails on the server (ENOENT) but drops the local registration,
// while the server keeps the real one. Their events go to nobody.
void flood_watches() {
  unsigned n = 0;
  int rc = 0;
  char token[32];
  for (; n < kMaxWatches; n++) {
    lib::snprintf(path, sizeof path, "data/flood/w%u", n);
    lib::snprintf(token, sizeof token, "flood%u", n);
    rc = xenbus::watch(path, token, [](const char*, const char*, void*) {});
    if (rc) break;
    xenbus::unwatch("data/flood/not-watched", token);
    xenbus::wait_events(0);  // drain the initial event (the client queues 16)
  }
  result("watches", rc != 0, n, rc);
}

// (d) Transactions started and never ended, until refused.
void flood_transactions() {
  unsigned n = 0;
  int rc = 0;
  for (; n < kMaxTransactions; n++)
    if ((rc = xenbus::transaction_start(txs[n])) != 0) break;
  result("transactions", rc != 0, n, rc);
  // Give one back: obeying control/shutdown needs a transaction.
  if (n) xenbus::transaction_end(txs[n - 1], false);
}
}  // namespace

[[noreturn]] void run_xenstore_flood() {
  // control/shutdown first, as `idle` does: its watch and feature nodes
  // must exist before the flood takes every slot.
  bool watching = control::start(false);  // control/shutdown's watch only: the quota count assumes one
  if (!xenbus::connected()) {
    con::printf("FAIL xenstore-flood init: no usable xenstore ring\n");
    failed = 4;
  } else {
    xenbus::write("data/flood/alive", "yes");
    flood_entry_size();
    flood_nodes();
    flood_watches();
    flood_transactions();
  }
  con::printf("xenstore-flood: %u passed, %u failed\n", passed, failed);
  con::printf("xenstore-flood: holding its nodes, watches and transactions; idle\n");
  bool reported = false;
  for (;;) {
    if (watching && xenbus::connected()) {
      int rc = xenbus::wait_events(kIdleWaitNs);
      if (rc >= 0) continue;
      if (!reported) con::printf("xenbus: %s; idling without xenstore\n", en(rc));
      reported = true;
    }
    hv::sched_op(xen::sched::op::block, nullptr);
  }
}
