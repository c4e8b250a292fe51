// pvguest: netfront internals shared by netfront.cpp (state and public
// entry points), netfront_ring.cpp (rx and tx rings, grants of the
// buffers) and netfront_handshake.cpp (xenbus state machine, keys,
// reconnection). Not for other files: the public interface is netfront.h.
//
// rx buffers are identified by ring index, as Linux does (id = index & 255;
// responses come back in request order); tx ids come from a free list.
// Every rx slot and every tx id owns one grant reference for the life of a
// connection: a buffer's access is revoked (gnttab_end_access_ref) before
// its page is touched again and granted afresh for the next buffer, which
// costs a fifth of allocating and freeing a reference each time. A
// reference the back-end still holds is abandoned with its page.
#pragma once
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#include "grant.h"
#include "netfront.h"
#include "xenbus_front.h"

namespace netfront {
namespace nif = xen::netif;
using xen::grant_ref_t;
using xen::evtchn_port_t;
using XS = xen::xenbus::State;

constexpr unsigned kPoolPages = 768;  // 256 rx + in-flight tx + frames being built
constexpr unsigned kMaxRxSlots = 32;  // slots of one received packet we accept
constexpr uint64_t kConnectTimeoutNs = 20000000000ull;
constexpr uint64_t kInitialisedWaitNs = 1000000000ull;

struct TxSlot {
  uint8_t* page;
  DoneFn done;
  bool used;
  bool raw;
};
struct RxSlot {
  uint8_t* page;     // posted buffer (granted), nullptr if none
  grant_ref_t gref;  // owned reference, kInvalidRef if none yet
};

// ---- state (netfront.cpp)
extern xbf::Device dev;
extern bool have_dev;
extern unsigned dev_number;
extern uint8_t mac_addr[6];
extern Features feat;
extern bool rings_up;          // rings, channels and keys in place (our side)
extern bool link_up;           // ... and the back-end said Connected
extern bool xs_dirty;          // we talked to xenstore: watch events may be queued
extern uint64_t initialised_at;  // reconnecting: when we switched to Initialised
extern uint32_t generation;

extern nif::TxFrontRing tx;
extern nif::RxFrontRing rx;
extern void* tx_ring_page;
extern void* rx_ring_page;
extern grant_ref_t tx_ring_ref, rx_ring_ref;
extern evtchn_port_t port_tx, port_rx;  // equal unless split

extern TxSlot txs[kRingSize];
extern grant_ref_t tx_refs[kRingSize];  // owned reference per tx id
extern uint16_t tx_ids[kRingSize];      // free ids (stack)
extern unsigned tx_nfree;
extern unsigned tx_used;
extern int16_t raw_statuses[kRingSize];
extern RxSlot rxs[kRingSize];
extern RxFn rx_handler;
extern bool tx_unpushed;  // requests written but not pushed (send's `more`)

inline const char* st_name(uint32_t s) { return xen::xenbus::state_name(s); }

// ---- netfront_ring.cpp
// Revokes the grant in an owned reference. If the back-end still has it
// mapped, the reference is abandoned (set to kInvalidRef) and false tells
// the caller to leak the page.
bool revoke(grant_ref_t& ref);
// The owned reference in `ref`, allocated on first use.
grant_ref_t own_ref(grant_ref_t& ref);
// Gives every owned reference back (all revoked by now).
void free_refs(grant_ref_t* refs, unsigned n);
// Sends on `p` (counted in `counter`) once the back-end has bound it.
void notify(evtchn_port_t p, uint64_t& counter);
// Posts buffers until the ring is full; pushes once.
void refill_rx();
// Consumes complete received packets and hands each to the handler;
// refills the ring. Returns packets delivered.
unsigned process_rx();
// Consumes tx responses. Returns frames completed.
unsigned reap_tx();

// ---- netfront_handshake.cpp
// Everything the handshake made, undone. In-flight tx frames are lost;
// grants the back-end still holds are leaked with their pages.
void teardown();
// talk_to_netback + xennet_connect: rings, channels, rx buffers, keys,
// then Connected. False (everything undone) on failure.
bool connect();
// Reconnecting: a back-end that connects on Initialised (pv-backd) has
// answered, or one that waits for Connected (Linux's netback) gets it after
// kInitialisedWaitNs.
void finish_initialised(bool backend_connected);
// netback_changed: follow the back-end's state.
void on_backend_state();

}  // namespace netfront
