// pvguest: xenbus front-end helpers (Linux's xenbus_client.c subset).
#include "xenbus_front.h"

#include <stdarg.h>
#include <xen/hvm.h>

#include "console.h"
#include "events.h"
#include "grant.h"
#include "hypercall.h"
#include "lib.h"
#include "mm.h"
#include "pvtime.h"

namespace xbf {
namespace {
constexpr size_t kPathMax = 256;

bool join(char* out, const char* dir, const char* node) {
  int n = lib::snprintf(out, kPathMax, "%s/%s", dir, node);
  return n > 0 && size_t(n) < kPathMax;
}

void on_otherend(const char*, const char*, void* arg) {
  Device& d = *static_cast<Device*>(arg);
  d.otherend_changed = true;
  if (d.changed_fn) d.changed_fn(d, d.changed_arg);
}
}  // namespace

int read_str(const char* dir, const char* node, char* buf, size_t size, uint32_t tx) {
  char path[kPathMax];
  if (!join(path, dir, node)) return -int(xen::XEN_E2BIG);
  return xenbus::read(path, buf, size, nullptr, tx);
}

int read_u64(const char* dir, const char* node, uint64_t& out, uint32_t tx) {
  char v[32];
  int rc = read_str(dir, node, v, sizeof v, tx);
  if (rc) return rc;
  size_t n = strlen(v);
  while (n && (v[n - 1] == '\n' || v[n - 1] == ' ')) n--;
  return lib::parse_u64(v, n, out) ? 0 : -int(xen::XEN_EINVAL);
}

uint64_t read_unsigned(const char* dir, const char* node, uint64_t dflt) {
  uint64_t v;
  return read_u64(dir, node, v) == 0 ? v : dflt;
}

int write_str(uint32_t tx, const char* dir, const char* node, const char* value) {
  char path[kPathMax];
  if (!join(path, dir, node)) return -int(xen::XEN_E2BIG);
  return xenbus::write(path, value, tx);
}

int printf(uint32_t tx, const char* dir, const char* node, const char* fmt, ...) {
  char value[128];
  va_list ap;
  va_start(ap, fmt);
  lib::vsnprintf(value, sizeof value, fmt, ap);
  va_end(ap);
  return write_str(tx, dir, node, value);
}

int rm(uint32_t tx, const char* dir, const char* node) {
  char path[kPathMax];
  if (!join(path, dir, node)) return -int(xen::XEN_E2BIG);
  return xenbus::rm(path, tx);
}

uint32_t read_driver_state(const char* path) {
  uint64_t s;
  if (read_u64(path, "state", s) != 0 || s > xen::xenbus::Reconfigured) return xen::xenbus::Unknown;
  return uint32_t(s);
}

int probe(Device& d, const char* nodename) {
  if (lib::snprintf(d.nodename, sizeof d.nodename, "%s", nodename) >= int(sizeof d.nodename))
    return -int(xen::XEN_E2BIG);
  int rc = read_str(nodename, "backend", d.otherend, sizeof d.otherend);
  if (rc) return rc;
  if (!d.otherend[0]) return -int(xen::XEN_ENOENT);
  uint64_t id;
  if ((rc = read_u64(nodename, "backend-id", id)) != 0) return rc;
  if (id >= xen::DOMID_FIRST_RESERVED) return -int(xen::XEN_EINVAL);
  d.otherend_id = xen::domid_t(id);
  d.state = read_driver_state(nodename);
  d.otherend_state = xen::xenbus::Unknown;
  lib::snprintf(d.token, sizeof d.token, "otherend:%s", nodename);
  char path[kPathMax];
  if (!join(path, d.otherend, "state")) return -int(xen::XEN_E2BIG);
  d.otherend_changed = true;  // read it at least once
  rc = xenbus::watch(path, d.token, on_otherend, &d);
  d.watching = rc == 0 || rc == -int(xen::XEN_ETIMEDOUT);
  return rc;
}

void remove(Device& d) {
  if (!d.watching) return;
  char path[kPathMax];
  if (join(path, d.otherend, "state")) xenbus::unwatch(path, d.token);
  d.watching = false;
}

int switch_state(Device& d, uint32_t state) {
  if (d.state == state) return 0;
  int rc = transact([&](uint32_t tx) {
    uint64_t cur;
    int r = read_u64(d.nodename, "state", cur, tx);
    if (r) return r;  // gone: do not recreate it
    return printf(tx, d.nodename, "state", "%u", state);
  });
  if (rc) {
    con::printf("xenbus: %s: switching to %s failed: %s\n", d.nodename, xen::xenbus::state_name(state),
                xenbus::error_name(rc));
    return rc;
  }
  d.state = state;
  return 0;
}

uint32_t refresh_otherend(Device& d) {
  d.otherend_changed = false;
  d.otherend_state = read_driver_state(d.otherend);
  return d.otherend_state;
}

int alloc_evtchn(const Device& d, xen::evtchn_port_t& port) {
  xen::evtchn::alloc_unbound a{xen::DOMID_SELF, d.otherend_id, 0};
  long rc = hv::evtchn_op(xen::evtchn::op::alloc_unbound, &a);
  if (rc) return int(rc);
  port = a.port;
  evt::mask(port);  // polled, never an upcall
  evt::set_binding(port, 0);
  return 0;
}

void free_evtchn(xen::evtchn_port_t port) {
  if (port) evt::close(port);
}

int setup_ring(const Device& d, unsigned nr_pages, void** vaddr, xen::grant_ref_t* grefs) {
  void* p = mm::alloc_pages(nr_pages);
  if (!p) return -int(xen::XEN_ENOMEM);
  for (unsigned i = 0; i < nr_pages; i++) {
    grefs[i] = grant::gnttab_grant_access(d.otherend_id, mm::gfn(p) + i, false);
    if (grefs[i] == grant::kInvalidRef) {
      while (i--) grant::gnttab_end_access(grefs[i]);  // never used yet
      mm::free_pages(p, nr_pages);
      return -int(xen::XEN_ENOSPC);
    }
  }
  *vaddr = p;
  return 0;
}

unsigned teardown_ring(void* vaddr, unsigned nr_pages, xen::grant_ref_t* grefs) {
  unsigned leaked = 0;
  for (unsigned i = 0; i < nr_pages; i++) {
    if (grefs[i] == grant::kInvalidRef) continue;
    if (grant::gnttab_end_access(grefs[i])) {
      if (vaddr) mm::free_page(static_cast<uint8_t*>(vaddr) + i * mm::kPageSize);
    } else {
      leaked++;  // the other end still maps it: keep the ref and the page
    }
    grefs[i] = grant::kInvalidRef;
  }
  return leaked;
}

xen::evtchn_port_t store_port() {
  static xen::evtchn_port_t port = ~0u;
  if (port == ~0u) {
    xen::hvm::param_arg p{xen::DOMID_SELF, 0, xen::hvm::param::STORE_EVTCHN, 0};
    port = hv::hvm_op(xen::hvm::op::get_param, &p) == 0 ? xen::evtchn_port_t(p.value) : 0;
  }
  return port;
}

}  // namespace xbf
