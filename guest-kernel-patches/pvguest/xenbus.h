// pvguest: xenbus, the xenstore client on the shared ring (HVM params
// STORE_PFN / STORE_EVTCHN), as Linux's xenbus_comms/xenbus_xs do it.
//
// One request at a time, from one vCPU (the boot vCPU's mode code); not
// re-entrant from interrupt context. Every call returns 0 or a negative Xen
// errno (-XEN_ENOENT ...): the server's XS_ERROR names map to theirs, and
// the client adds -XEN_ETIMEDOUT (no reply in time), -XEN_EIO (broken ring),
// -XEN_E2BIG (payload over 4096 bytes), -XEN_ENODEV (no ring), -XEN_ERANGE
// (caller's buffer too small). error_name() turns a code back into "ENOENT".
// Relative paths are sent as they are; xenstored resolves them against
// /local/domain/<domid>.
//
// Watch events are read whenever the ring is, also between a request and
// its reply, and queued; wait_events() delivers them to the callbacks.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace xenbus {

inline constexpr uint64_t kDefaultTimeoutNs = 5000000000ull;  // per request
inline constexpr uint32_t XBT_NIL = 0;                        // no transaction

using WatchFn = void (*)(const char* path, const char* token, void* arg);

bool init();  // maps the ring; false if the host advertises none
bool connected();
// After a resume in a new host (suspend returned 0): reconnect to the ring
// HVM_PARAM_STORE_PFN/STORE_EVTCHN name now and register every watch again.
bool resume();

int read(const char* path, char* buf, size_t size, size_t* len = nullptr, uint32_t tx = XBT_NIL);  // NUL-terminated
int write(const char* path, const char* value, uint32_t tx = XBT_NIL);
int write_bytes(const char* path, const void* data, size_t len, uint32_t tx = XBT_NIL);
// Children as NUL-terminated names one after another; *count of them.
int directory(const char* path, char* buf, size_t size, unsigned* count, uint32_t tx = XBT_NIL);
int rm(const char* path, uint32_t tx = XBT_NIL);
// Permissions as strings ("n1", "r0", ...): the first names the owner.
int get_perms(const char* path, char* buf, size_t size, unsigned* count, uint32_t tx = XBT_NIL);
int set_perms(const char* path, const char* const* perms, unsigned count, uint32_t tx = XBT_NIL);
int transaction_start(uint32_t& tx);
int transaction_end(uint32_t tx, bool commit);  // -XEN_EAGAIN: conflict, start again
int get_domain_path(uint32_t domid, char* buf, size_t size);

// Registers locally, then XS_WATCH. On -XEN_ETIMEDOUT the watch stays
// registered, as the request may still be served late; on any other error
// it is dropped. At most kMaxWatches; token must be unique.
inline constexpr unsigned kMaxWatches = 32;
int watch(const char* path, const char* token, WatchFn fn, void* arg = nullptr);
int unwatch(const char* path, const char* token);

// Blocks (SCHEDOP_poll on the store port) until at least one watch event
// is queued or timeout_ns passes, then runs the callbacks of everything
// queued. Returns how many events were delivered, or a negative error.
int wait_events(uint64_t timeout_ns);

const char* error_name(int err);  // "ENOENT", "ETIMEDOUT", ...
}  // namespace xenbus
