// pvguest: front-end side of a xenbus split device, after Linux's
// drivers/xen/xenbus/xenbus_{client,probe_frontend}.c: the other end's
// details, our "state" switches, the other end's state followed through a
// watch, key reads/writes, transactions retried on EAGAIN, event channels
// and granted rings for the back-end.
//
// Like xenbus itself: one caller at a time (the boot vCPU's mode code),
// never from an upcall. Errors are 0 or negative Xen errno values.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/io/xenbus.h>

#include "xenbus.h"

namespace xbf {

using XState = xen::xenbus::State;

struct Device {
  char nodename[64];                // ours, relative: "device/vbd/51712"
  char otherend[128];               // the back-end's directory (absolute)
  xen::domid_t otherend_id = 0;     // "backend-id"
  uint32_t state = 0;               // ours, as last switched
  uint32_t otherend_state = 0;      // the other end's, as last read
  volatile bool otherend_changed = false;  // the watch fired since
  bool watching = false;
  char token[80];
  // Optional: called from the watch callback (so from inside
  // xenbus::wait_events(), never from an upcall) after otherend_changed is
  // set, as Linux's otherend_changed() calls the driver. Set before probe().
  void (*changed_fn)(Device& d, void* arg) = nullptr;
  void* changed_arg = nullptr;
};

// Reads "<nodename>/backend" and "<nodename>/backend-id"
// (xenbus_read_otherend_details) and watches "<backend>/state"; the first
// watch event arrives at once (xenstored fires new watches).
int probe(Device& d, const char* nodename);
void remove(Device& d);  // drops the watch

// __xenbus_switch_state: in a transaction, write "<nodename>/state" if the
// node exists (a missing node means the toolstack removed the device).
int switch_state(Device& d, uint32_t state);
// xenbus_read_driver_state: "<path>/state", XenbusStateUnknown if absent.
uint32_t read_driver_state(const char* path);
// Reads the other end's state now (clears otherend_changed).
uint32_t refresh_otherend(Device& d);
inline constexpr uint32_t state_bit(uint32_t s) { return 1u << s; }

// Keys: "<dir>/<node>" (dir may be relative or absolute).
int read_str(const char* dir, const char* node, char* buf, size_t size, uint32_t tx = xenbus::XBT_NIL);
int read_u64(const char* dir, const char* node, uint64_t& out, uint32_t tx = xenbus::XBT_NIL);
// xenbus_read_unsigned: `dflt` when absent or not a number.
uint64_t read_unsigned(const char* dir, const char* node, uint64_t dflt);
int write_str(uint32_t tx, const char* dir, const char* node, const char* value);
int printf(uint32_t tx, const char* dir, const char* node, const char* fmt, ...) __attribute__((format(printf, 4, 5)));
int rm(uint32_t tx, const char* dir, const char* node);

// Runs fn(tx) in a transaction and commits; starts again when the commit
// says EAGAIN (up to kMaxRetries). An error from fn aborts and is returned.
inline constexpr unsigned kMaxRetries = 16;
template <class Fn>
int transact(Fn fn) {
  int rc = 0;
  for (unsigned attempt = 0; attempt < kMaxRetries; attempt++) {
    uint32_t tx;
    if ((rc = xenbus::transaction_start(tx)) != 0) return rc;
    if ((rc = fn(tx)) != 0) {
      xenbus::transaction_end(tx, false);
      return rc;
    }
    rc = xenbus::transaction_end(tx, true);
    if (rc != -int(xen::XEN_EAGAIN)) return rc;
  }
  return rc;
}

// xenbus_alloc_evtchn: an unbound port the other end may bind (kept
// masked: the driver polls it). free_evtchn closes it.
int alloc_evtchn(const Device& d, xen::evtchn_port_t& port);
void free_evtchn(xen::evtchn_port_t port);

// xenbus_setup_ring: `nr_pages` zeroed contiguous pages, each granted
// read-write to the other end; *vaddr and grefs[0..nr_pages). On failure
// nothing stays allocated.
int setup_ring(const Device& d, unsigned nr_pages, void** vaddr, xen::grant_ref_t* grefs);
// xenbus_teardown_ring: revokes each grant and frees the pages. A grant
// the other end still holds is leaked with its page (never reused); returns
// how many were leaked.
unsigned teardown_ring(void* vaddr, unsigned nr_pages, xen::grant_ref_t* grefs);

// The xenstore event channel (HVM_PARAM_STORE_EVTCHN), for drivers that
// poll it together with their own ports; 0 if none. Its pending bit means
// "call xenbus::wait_events(0)".
xen::evtchn_port_t store_port();

}  // namespace xbf
