// pvguest: netfront, the front-end of Xen's network device (netif), as
// Linux's xen-netfront negotiates it with a back-end.
//
// One vif (device/vif/<n>), one queue. Rings: one page each for tx and rx,
// granted to the back-end; event channels split (event-channel-tx/-rx) when
// the back-end offers it. The rx ring is kept full (256 granted pages).
//
// Frames live in 4 KiB pages from netfront's own pool (taken once from mm,
// then recycled without zeroing). A received frame is handed to the rx
// handler in its page; the handler may keep the page (e.g. to send a reply
// built in place) or give it back. A frame to send is built in a pool page
// and handed over with send(); the page returns to `done` (by default the
// pool) when the back-end answers.
//
// Nothing is interrupt driven: the device's ports stay masked and poll() /
// wait() look at the rings, block in SCHEDOP_poll on the device ports plus
// the xenstore port, and deliver xenstore watch events (control/shutdown,
// the back-end's state: a back-end that goes back to InitWait or closes
// while connected is reconnected with fresh rings and channels).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <xen/io/netif.h>

namespace netfront {

inline constexpr unsigned kRingSize = 256;
inline constexpr uint16_t kMtuFrame = 1514;  // largest frame our stack sends

struct Features {  // what the back-end offers
  bool rx_copy, rx_flip, sg, gso_tcpv4, gso_tcpv6, rx_notify, split_evtchn, ipv6_csum, no_csum_offload;
  unsigned max_queues;
};

struct Stats {
  uint64_t rx_packets, rx_bytes, rx_errors, rx_multislot, rx_oversize;
  uint64_t rx_data_validated, rx_csum_blank;  // NETRXF_* on delivered frames
  uint64_t tx_packets, tx_bytes, tx_okay, tx_error, tx_dropped, tx_ring_full;
  uint64_t notifies_tx, notifies_rx, polls;
  uint64_t reconnects, leaked_grants;
};
extern Stats stats;

// Finds device/vif/<devid> (devid < 0: the lowest-numbered), negotiates and
// waits for the back-end to connect. Starts xenbus if needed. Prints one
// `netfront: ...` line per step that fails and `netfront: vif/<n> connected
// ...` on success. False: no device, or it did not connect.
bool start(int devid = -1);
// Hot-plug: the device's directory went away (or it is to be let go):
// everything the handshake made is undone, the watch dropped; start() may
// then take another vif. Which vif is in use: device_number(), have_device().
void stop();
bool have_device();
unsigned device_number();
// True once the back-end closed the vif for good (a detach: `online` = 0)
// and our front-end has followed to Closed.
bool closed();
// Its part in a suspend (registered by start() with suspend.h).
void quiesce_for_suspend(void*);
void resume_after_suspend(void*, bool cancelled);
bool connected();
const uint8_t* mac();

// Pool pages (4096 bytes, contents undefined). nullptr when exhausted.
uint8_t* page_alloc();
void page_free(uint8_t* page);

// Transmit the frame at page+off (off + len <= 4096, len >= 14). The page is
// netfront's until the back-end answers; then `done(page)` runs (nullptr =
// page_free). False when the link is down or the ring is full even after
// reaping responses: the page is still the caller's.
// `more` (Linux's xmit_more): another frame follows at once, so the
// request is not pushed yet; the next send without it, flush(), poll() or
// wait() pushes (and notifies if the back-end asks for it).
using DoneFn = void (*)(uint8_t* page);
bool send(uint8_t* page, uint16_t off, uint16_t len, DoneFn done = nullptr, bool more = false);
void flush();
unsigned tx_inflight();  // sent, not yet answered

// The receive handler: one call per frame (frame points into `page`, or
// into a bounce buffer when page is nullptr: a multi-slot frame that does
// not fit one page). Returns true if it kept the page.
using RxFn = bool (*)(uint8_t* page, uint8_t* frame, uint16_t len, uint16_t flags);
void set_rx_handler(RxFn fn);

// Does all pending work without blocking: rx and tx responses, rx refill,
// xenstore events (back-end state, control/shutdown). Returns frames
// delivered.
unsigned poll();
// poll(); if it found nothing, blocks until an event on the device or
// xenstore ports or `deadline_ns` (absolute pvclock time; 0 = none), then
// polls again. Returns frames delivered.
unsigned wait(uint64_t deadline_ns);
// Waits (serving the rings) until every sent frame is answered or deadline.
bool drain_tx(uint64_t deadline_ns);

// --- raw access for `nethostile` ---------------------------------------
// Posts `n` tx requests exactly as given (gref/offset/flags/size; the id is
// assigned and written back into reqs[i].id), pushes, and returns. The
// caller owns whatever the grefs point at. Returns false if the ring has no
// room for all n.
bool raw_tx(xen::netif::netif_tx_request* reqs, unsigned n);
// Status of the response to raw request id, or 2 (not answered yet).
inline constexpr int16_t kNoResponse = 2;
int16_t raw_status(uint16_t id);
uint16_t backend_domid();
uint32_t link_generation();  // bumps at every (re)connection

}  // namespace netfront
