// The xenstore shared ring page (public/io/xs_wire.h, xenstore_domain_interface).
#pragma once
#include "xen.h"

namespace xen::xenstore {

using ring_idx = uint32_t;
inline constexpr uint32_t kRingSize = 1024;

struct domain_interface {
  char req[kRingSize];  // guest -> xenstored
  char rsp[kRingSize];  // xenstored -> guest
  ring_idx req_cons, req_prod;
  ring_idx rsp_cons, rsp_prod;
  uint32_t server_features;
  uint32_t connection;
  uint32_t error;
};
static_assert(offsetof(domain_interface, req_cons) == 2048);
static_assert(offsetof(domain_interface, server_features) == 2064);
static_assert(offsetof(domain_interface, error) == 2072);

inline constexpr uint32_t XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
inline constexpr uint32_t XENSTORE_SERVER_FEATURE_ERROR = 2;
// domain_interface.error: why the server stopped serving the ring.
inline constexpr uint32_t XENSTORE_ERROR_NONE = 0;
inline constexpr uint32_t XENSTORE_ERROR_COMM = 1;     // communication problem
inline constexpr uint32_t XENSTORE_ERROR_RINGIDX = 2;  // invalid ring index
inline constexpr uint32_t XENSTORE_ERROR_PROTO = 3;    // protocol violation
inline constexpr uint32_t XENSTORE_CONNECTED = 0;
inline constexpr uint32_t XENSTORE_RECONNECT = 1;

}  // namespace xen::xenstore

// ---- Xen's spellings (public/io/xs_wire.h); see xen.h ----
namespace xen {
inline constexpr uint32_t XENSTORE_RING_SIZE = xenstore::kRingSize;
using XENSTORE_RING_IDX = xenstore::ring_idx;
constexpr XENSTORE_RING_IDX MASK_XENSTORE_IDX(XENSTORE_RING_IDX idx) { return idx & (XENSTORE_RING_SIZE - 1); }
// The ring page under Xen's name. (Xen 4.21 appends `uint32_t evtchn_port`
// at offset 2076, not modelled here.)
using xenstore_domain_interface = xenstore::domain_interface;
using xenstore::XENSTORE_SERVER_FEATURE_RECONNECTION;
using xenstore::XENSTORE_SERVER_FEATURE_ERROR;
inline constexpr uint32_t XENSTORE_SERVER_FEATURE_WATCHDEPTH = 4;
inline constexpr uint32_t XENSTORE_SERVER_FEATURE_DOMID_ANY = 8;
using xenstore::XENSTORE_CONNECTED;
using xenstore::XENSTORE_RECONNECT;
using xenstore::XENSTORE_ERROR_NONE;
using xenstore::XENSTORE_ERROR_COMM;
using xenstore::XENSTORE_ERROR_RINGIDX;
using xenstore::XENSTORE_ERROR_PROTO;
}  // namespace xen
