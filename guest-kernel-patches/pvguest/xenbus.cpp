// pvguest: xenbus, the xenstore client on the shared ring.
//
// Ring protocol as Linux's xenbus_comms.c: free-running indices masked with
// size-1, (prod - cons) <= size or the ring is broken, a barrier between the
// index read and the data, and between the data and the index write; kick
// the store port after producing requests and after consuming replies.
// Waiting polls the (masked) store port with SCHEDOP_poll and a deadline.
#include "xenbus.h"

#include <xen/hvm.h>
#include <xen/sched.h>
#include <xen/xenstore_ring.h>
#include <xen/xs_wire.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "pvtime.h"

namespace xenbus {
namespace {
namespace xs = xen::xenstore;
using xs::kRingSize;
constexpr uint32_t kHdr = sizeof(xs::xsd_sockmsg);
constexpr uint32_t kMax = xs::XENSTORE_PAYLOAD_MAX;
constexpr unsigned kQueue = 16;  // watch events held until wait_events()
constexpr size_t kTokenMax = 64;

struct Msg {
  xs::xsd_sockmsg hdr;
  char body[kMax + 1];  // + NUL
};
static_assert(offsetof(Msg, body) == kHdr);

struct Event {
  uint32_t len;
  char body[kMax + 1];  // "<path>\0<token>\0"
};

constexpr size_t kWatchPathMax = 256;  // longer paths are not re-registered on resume

struct Watch {
  bool used;
  char token[kTokenMax];
  char path[kWatchPathMax];
  WatchFn fn;
  void* arg;
};

volatile xs::domain_interface* intf = nullptr;
xen::evtchn_port_t port = 0;
bool broken = false;
uint32_t next_req_id = 1;

Msg bufs[3];
Msg* out = &bufs[0];      // request being sent
Msg* in = &bufs[1];       // message being received
Msg* reply = &bufs[2];    // the reply to the outstanding request
uint32_t in_got = 0;      // bytes of *in received so far
uint32_t waiting_id = 0;  // req_id of the outstanding request, 0 = none
bool reply_ready = false;

Event queue[kQueue];
unsigned q_head = 0, q_tail = 0;  // free-running
uint64_t q_dropped = 0;
Event current;  // the event being delivered (callbacks may refill the queue)
Watch watches[kMaxWatches];

const char* type_name(uint32_t t) {
  static const char* const names[] = {
      "CONTROL",   "DIRECTORY", "READ",    "GET_PERMS", "WATCH", "UNWATCH", "TRANSACTION_START", "TRANSACTION_END",
      "INTRODUCE", "RELEASE",   "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT", "ERROR"};
  return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

void mark_broken(const char* what, uint32_t cons, uint32_t prod) {
  if (!broken) con::printf("xenbus: broken ring: %s (cons=%u prod=%u)\n", what, cons, prod);
  broken = true;
}

void notify() { evt::send(port); }

void queue_event(const Msg& m) {
  if (q_tail - q_head >= kQueue) {
    if (q_dropped++ == 0) con::printf("xenbus: watch event queue full, dropping events\n");
    return;
  }
  Event& e = queue[q_tail % kQueue];
  e.len = m.hdr.len;
  memcpy(e.body, m.body, m.hdr.len);
  e.body[m.hdr.len] = 0;
  q_tail++;
}

void file_message() {
  in->body[in->hdr.len] = 0;
  if (in->hdr.type == xs::msg::WATCH_EVENT) return queue_event(*in);
  if (waiting_id && !reply_ready && in->hdr.req_id == waiting_id) {
    Msg* t = reply;
    reply = in;
    in = t;
    reply_ready = true;
    return;
  }
  con::printf("xenbus: dropping unexpected %s reply (req_id %u)\n", type_name(in->hdr.type), in->hdr.req_id);
}

// Consumes whatever the server has produced, completing messages across
// ring wraps and partial writes; kicks the server if space was freed.
void pump() {
  bool consumed = false;
  while (!broken) {
    uint32_t cons = intf->rsp_cons, prod = intf->rsp_prod;
    if (cons == prod) break;
    if (prod - cons > kRingSize) {
      mark_broken("rsp_prod - rsp_cons > 1024", cons, prod);
      break;
    }
    arch::rmb();  // read the data after the producer index
    uint32_t want = in_got < kHdr ? kHdr - in_got : kHdr + in->hdr.len - in_got;
    uint32_t n = prod - cons < want ? prod - cons : want;
    auto* dst = reinterpret_cast<char*>(in) + in_got;
    for (uint32_t i = 0; i < n; i++) dst[i] = intf->rsp[(cons + i) & (kRingSize - 1)];
    arch::mb();  // copied out before the server may reuse the space
    intf->rsp_cons = cons + n;
    consumed = true;
    in_got += n;
    if (in_got == kHdr && in->hdr.len > kMax) {
      mark_broken("reply longer than XENSTORE_PAYLOAD_MAX", cons, prod);
      break;
    }
    if (in_got >= kHdr && in_got == kHdr + in->hdr.len) {
      file_message();
      in_got = 0;
    }
  }
  if (consumed) notify();
}

// Blocks until ready() or the deadline. Clearing the pending bit before
// looking at the ring means an event sent after the look ends the poll.
template <class Ready>
int wait_until(Ready ready, uint64_t deadline) {
  for (;;) {
    arch::test_and_clear_bit(port, k::shinfo->evtchn_pending);
    arch::mb();
    pump();
    if (broken) return -int(xen::XEN_EIO);
    if (ready()) return 0;
    if (pvclock::now() >= deadline) return -int(xen::XEN_ETIMEDOUT);
    xen::sched::poll p{uint64_t(&port), 1, 0, deadline};
    hv::sched_op(xen::sched::op::poll, &p);
  }
}

uint32_t req_space() { return kRingSize - (intf->req_prod - intf->req_cons); }

// Waits for room for the whole message (or a whole ring) before writing
// anything, so a timeout never leaves half a request; a larger one that
// stalls mid-way breaks the stream and the ring with it.
int ring_write(const char* data, uint32_t n, uint64_t deadline) {
  uint32_t first = n < kRingSize ? n : kRingSize;
  int rc = wait_until([&] { return intf->req_prod - intf->req_cons > kRingSize || req_space() >= first; }, deadline);
  if (rc) return rc;
  for (uint32_t done = 0; done < n;) {
    uint32_t cons = intf->req_cons, prod = intf->req_prod;
    if (prod - cons > kRingSize) {
      mark_broken("req_prod - req_cons > 1024", cons, prod);
      return -int(xen::XEN_EIO);
    }
    if (prod - cons == kRingSize) {
      notify();
      rc = wait_until([] { return req_space() > 0; }, deadline);
      if (rc == -int(xen::XEN_ETIMEDOUT)) mark_broken("request stalled half-written", cons, prod);
      if (rc) return rc;
      continue;
    }
    arch::mb();  // write the data after reading the consumer index
    uint32_t m = kRingSize - (prod - cons);
    if (m > n - done) m = n - done;
    for (uint32_t i = 0; i < m; i++) intf->req[(prod + i) & (kRingSize - 1)] = data[done + i];
    arch::wmb();  // the server must see the data before the new producer index
    intf->req_prod = prod + m;
    done += m;
  }
  notify();
  return 0;
}

int errno_of(const char* name) {
  for (const auto& e : xs::xsd_errors)
    if (lib::strcmp(name, e.errstring) == 0) return -e.errnum;
  if (lib::strcmp(name, "EPERM") == 0) return -int(xen::XEN_EPERM);
  con::printf("xenbus: unknown error '%s' from xenstored\n", name);
  return -int(xen::XEN_EINVAL);
}

// Request payload builder into *out.
struct Payload {
  uint32_t len = 0;
  bool too_big = false;
  Payload& bytes(const void* p, size_t n) {
    if (len + n > kMax) too_big = true;
    else memcpy(out->body + len, p, n), len += uint32_t(n);
    return *this;
  }
  Payload& str(const char* s) { return bytes(s, strlen(s) + 1); }  // with its NUL
};

// Sends *out and waits for its reply in *reply (NUL-terminated).
int talk(uint32_t type, uint32_t tx, const Payload& p) {
  if (!intf) return -int(xen::XEN_ENODEV);
  if (broken) return -int(xen::XEN_EIO);
  if (p.too_big) return -int(xen::XEN_E2BIG);
  if (waiting_id) return -int(xen::XEN_EBUSY);  // one request at a time
  uint32_t id = next_req_id++;
  if (next_req_id == 0) next_req_id = 1;
  out->hdr = {type, id, tx, p.len};
  waiting_id = id;
  reply_ready = false;
  uint64_t start = pvclock::now(), deadline = start + kDefaultTimeoutNs;
  int rc = ring_write(reinterpret_cast<const char*>(out), kHdr + p.len, deadline);
  if (rc == 0) rc = wait_until([] { return reply_ready; }, deadline);
  waiting_id = 0;
  if (rc == -int(xen::XEN_ETIMEDOUT))
    con::printf("xenbus: no reply to %s (req_id %u) in %lu ms\n", type_name(type), id, kDefaultTimeoutNs / 1000000);
  if (rc) return rc;
  if (reply->hdr.type == xs::msg::ERROR) return errno_of(reply->body);
  if (reply->hdr.type != type) {
    con::printf("xenbus: %s answered with %s\n", type_name(type), type_name(reply->hdr.type));
    return -int(xen::XEN_EIO);
  }
  return 0;
}

int talk_path(uint32_t type, uint32_t tx, const char* path) { return talk(type, tx, Payload().str(path)); }

// Copies the reply's NUL-separated strings to buf and counts them.
int copy_list(char* buf, size_t size, unsigned* count) {
  uint32_t n = reply->hdr.len;
  if (size) buf[0] = 0;
  if (n > size) return -int(xen::XEN_ERANGE);
  memcpy(buf, reply->body, n);
  unsigned c = 0;
  for (uint32_t i = 0; i < n; i++) c += buf[i] == 0;
  if (n && buf[n - 1] != 0) {  // tolerate a missing final NUL
    if (n == size) return -int(xen::XEN_ERANGE);
    buf[n] = 0, c++;
  }
  if (count) *count = c;
  return 0;
}
}  // namespace

bool init() {
  if (intf) return true;
  xen::hvm::param_arg p{xen::DOMID_SELF, 0, xen::hvm::param::STORE_PFN, 0};
  if (hv::hvm_op(xen::hvm::op::get_param, &p) != 0 || p.value == 0) return false;
  uint64_t pfn = p.value;
  p = {xen::DOMID_SELF, 0, xen::hvm::param::STORE_EVTCHN, 0};
  if (hv::hvm_op(xen::hvm::op::get_param, &p) != 0 || p.value == 0) return false;
  port = xen::evtchn_port_t(p.value);
  evt::mask(port);  // never an upcall: we poll it
  intf = reinterpret_cast<volatile xs::domain_interface*>(pfn << xen::kPageShift);
  if (intf->rsp_prod != intf->rsp_cons) {  // as Linux: drop what an earlier user left
    con::printf("xenbus: discarding %u stale reply bytes\n", intf->rsp_prod - intf->rsp_cons);
    intf->rsp_cons = intf->rsp_prod;
  }
  return true;
}

bool connected() { return intf && !broken; }

// As Linux's xs_resume after a suspend that was not cancelled: the ring and
// its port are found again from the HVM params (the new host may have moved
// them), nothing is outstanding, and every watch is registered again.
bool resume() {
  intf = nullptr;
  broken = false;
  waiting_id = 0;
  in_got = 0;
  q_head = q_tail = 0;
  if (!init()) {
    con::printf("xenbus: resume: no xenstore ring advertised\n");
    return false;
  }
  bool ok = true;
  for (auto& w : watches) {
    if (!w.used) continue;
    int rc = w.path[0] ? talk(xs::msg::WATCH, XBT_NIL, Payload().str(w.path).str(w.token)) : -int(xen::XEN_E2BIG);
    if (rc) {
      con::printf("xenbus: resume: watch %s: %s\n", w.token, error_name(rc));
      ok = false;
    }
  }
  return ok;
}

int read(const char* path, char* buf, size_t size, size_t* len, uint32_t tx) {
  int rc = talk_path(xs::msg::READ, tx, path);
  if (rc) return rc;
  uint32_t n = reply->hdr.len;
  if (size == 0 || n > size - 1) return -int(xen::XEN_ERANGE);
  memcpy(buf, reply->body, n);
  buf[n] = 0;
  if (len) *len = n;
  return 0;
}

int write_bytes(const char* path, const void* data, size_t len, uint32_t tx) {
  return talk(xs::msg::WRITE, tx, Payload().str(path).bytes(data, len));
}
int write(const char* path, const char* value, uint32_t tx) { return write_bytes(path, value, strlen(value), tx); }

int directory(const char* path, char* buf, size_t size, unsigned* count, uint32_t tx) {
  int rc = talk_path(xs::msg::DIRECTORY, tx, path);
  return rc ? rc : copy_list(buf, size, count);
}
int rm(const char* path, uint32_t tx) { return talk_path(xs::msg::RM, tx, path); }

int get_perms(const char* path, char* buf, size_t size, unsigned* count, uint32_t tx) {
  int rc = talk_path(xs::msg::GET_PERMS, tx, path);
  return rc ? rc : copy_list(buf, size, count);
}
int set_perms(const char* path, const char* const* perms, unsigned count, uint32_t tx) {
  Payload p;
  p.str(path);
  for (unsigned i = 0; i < count; i++) p.str(perms[i]);
  return talk(xs::msg::SET_PERMS, tx, p);
}

int transaction_start(uint32_t& tx) {
  int rc = talk(xs::msg::TRANSACTION_START, XBT_NIL, Payload().str(""));
  if (rc) return rc;
  uint64_t id = 0;
  if (!lib::parse_u64(reply->body, lib::strnlen(reply->body, reply->hdr.len), id) || id == 0 || id > ~0u)
    return -int(xen::XEN_EIO);
  tx = uint32_t(id);
  return 0;
}
int transaction_end(uint32_t tx, bool commit) { return talk_path(xs::msg::TRANSACTION_END, tx, commit ? "T" : "F"); }

int get_domain_path(uint32_t domid, char* buf, size_t size) {
  char d[16];
  lib::snprintf(d, sizeof d, "%u", domid);
  int rc = talk_path(xs::msg::GET_DOMAIN_PATH, XBT_NIL, d);
  if (rc) return rc;
  size_t n = lib::strnlen(reply->body, reply->hdr.len);
  if (n + 1 > size) return -int(xen::XEN_ERANGE);
  memcpy(buf, reply->body, n);
  buf[n] = 0;
  return 0;
}

int watch(const char* path, const char* token, WatchFn fn, void* arg) {
  if (strlen(token) >= kTokenMax) return -int(xen::XEN_EINVAL);
  Watch* w = nullptr;
  for (auto& x : watches) {
    if (x.used && lib::strcmp(x.token, token) == 0) return -int(xen::XEN_EEXIST);
    if (!x.used && !w) w = &x;
  }
  if (!w) return -int(xen::XEN_ENOSPC);
  memcpy(w->token, token, strlen(token) + 1);
  const size_t plen = strlen(path);
  if (plen < kWatchPathMax) memcpy(w->path, path, plen + 1);
  else w->path[0] = 0;
  w->fn = fn;
  w->arg = arg;
  w->used = true;
  int rc = talk(xs::msg::WATCH, XBT_NIL, Payload().str(path).str(token));
  if (rc && rc != -int(xen::XEN_ETIMEDOUT)) w->used = false;
  return rc;
}

int unwatch(const char* path, const char* token) {
  int rc = talk(xs::msg::UNWATCH, XBT_NIL, Payload().str(path).str(token));
  for (auto& x : watches)
    if (x.used && lib::strcmp(x.token, token) == 0) x.used = false;
  return rc;
}

int wait_events(uint64_t timeout_ns) {
  if (!intf) return -int(xen::XEN_ENODEV);
  int rc = wait_until([] { return q_head != q_tail; }, pvclock::now() + timeout_ns);
  if (rc == -int(xen::XEN_EIO)) return rc;
  int delivered = 0;
  while (q_head != q_tail) {
    const Event& e = queue[q_head % kQueue];
    current.len = e.len;
    memcpy(current.body, e.body, e.len + 1);
    q_head++;
    const char* path = current.body;
    size_t plen = lib::strnlen(path, current.len);
    const char* token = plen < current.len ? path + plen + 1 : "";
    for (auto& w : watches)
      if (w.used && lib::strcmp(w.token, token) == 0) {
        w.fn(path, token, w.arg);
        delivered++;
        break;
      }
  }
  return delivered;
}

const char* error_name(int err) {
  int e = err < 0 ? -err : err;
  for (const auto& x : xs::xsd_errors)
    if (x.errnum == e) return x.errstring;
  switch (e) {
    case 0: return "OK";
    case int(xen::XEN_EPERM): return "EPERM";
    case int(xen::XEN_ETIMEDOUT): return "ETIMEDOUT";
    case int(xen::XEN_ENODEV): return "ENODEV";
    case int(xen::XEN_ERANGE): return "ERANGE";
    default: return "E?";
  }
}

}  // namespace xenbus
