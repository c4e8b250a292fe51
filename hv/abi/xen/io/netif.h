// The network device protocol (public/io/netif.h) as Linux xen-netfront
// speaks it.
//
// xenstore keys, back-end directory (/local/domain/0/backend/vif/<dom>/<dev>):
//   mac, handle, feature-sg, feature-gso-tcpv4, feature-gso-tcpv6,
//   feature-rx-copy (1), feature-rx-flip (0), feature-rx-notify,
//   feature-split-event-channels, multi-queue-max-queues, state.
// Front-end directory (/local/domain/<dom>/device/vif/<dev>):
//   tx-ring-ref, rx-ring-ref, event-channel (or event-channel-tx and
//   event-channel-rx when split), or multi-queue-num-queues + queue-<q>/...,
//   request-rx-copy (must be 1), feature-rx-notify, feature-sg,
//   feature-gso-tcpv4, feature-gso-tcpv6, mac, handle, state.
//
// Transmit: a packet is one request per slot; the first carries the total
// packet size and NETTXF_more_data chains further slots, each with its own
// size. NETTXF_extra_info means the next slot holds a netif_extra_info
// (GSO parameters) and is answered with XEN_NETIF_RSP_NULL.
// Receive: the front-end posts empty granted pages; the back-end copies a
// packet into one or more of them (NETRXF_more_data chains).
#pragma once
#include "../xen.h"
#include "ring.h"

namespace xen::netif {

inline constexpr uint16_t NETTXF_csum_blank = 1 << 0;
inline constexpr uint16_t NETTXF_data_validated = 1 << 1;
inline constexpr uint16_t NETTXF_more_data = 1 << 2;
inline constexpr uint16_t NETTXF_extra_info = 1 << 3;

// Transmit: one slot of a packet the front-end sends, in granted page <gref>.
struct netif_tx_request {
  grant_ref_t gref;
  uint16_t offset;
  uint16_t flags;  // NETTXF_*
  uint16_t id;
  uint16_t size;   // first slot: whole packet; others: this slot
};
static_assert(sizeof(netif_tx_request) == 12);

inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_NONE = 0;
inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_GSO = 1;
inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_HASH = 4;
// XDP = 5 and MAX = 6 are Linux's values (include/xen/interface/io/netif.h);
// Xen's own public header has no XDP type and MAX = 5.
inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_XDP = 5;
inline constexpr uint8_t XEN_NETIF_EXTRA_TYPE_MAX = 6;
inline constexpr uint8_t XEN_NETIF_EXTRA_FLAG_MORE = 1 << 0;

inline constexpr uint8_t XEN_NETIF_GSO_TYPE_NONE = 0;
inline constexpr uint8_t XEN_NETIF_GSO_TYPE_TCPV4 = 1;
inline constexpr uint8_t XEN_NETIF_GSO_TYPE_TCPV6 = 2;

// The slot after a NETTXF_extra_info / NETRXF_extra_info one: GSO or multicast details.
struct netif_extra_info {
  uint8_t type;   // XEN_NETIF_EXTRA_TYPE_*
  uint8_t flags;  // XEN_NETIF_EXTRA_FLAG_*
  union {
    struct {
      uint16_t size;  // MSS
      uint8_t type;   // XEN_NETIF_GSO_TYPE_*
      uint8_t pad;
      uint16_t features;
    } gso;
    struct {
      uint8_t addr[6];
    } mcast;
    uint16_t pad[3];
  } u;
};
static_assert(sizeof(netif_extra_info) == 8);

// The answer to transmit slot <id>: XEN_NETIF_RSP_*.
struct netif_tx_response {
  uint16_t id;
  int16_t status;
};
static_assert(sizeof(netif_tx_response) == 4);

// Receive: an empty granted page <gref> the back-end may copy a packet into.
struct netif_rx_request {
  uint16_t id;
  uint16_t pad;
  grant_ref_t gref;
};
static_assert(sizeof(netif_rx_request) == 8);

inline constexpr uint16_t NETRXF_data_validated = 1 << 0;
inline constexpr uint16_t NETRXF_csum_blank = 1 << 1;
inline constexpr uint16_t NETRXF_more_data = 1 << 2;
inline constexpr uint16_t NETRXF_extra_info = 1 << 3;
inline constexpr uint16_t NETRXF_gso_prefix = 1 << 4;

// A received slot: <status> bytes at <offset> in the page of rx request <id>.
struct netif_rx_response {
  uint16_t id;
  uint16_t offset;
  uint16_t flags;  // NETRXF_*
  int16_t status;  // bytes in this slot (> 0) or XEN_NETIF_RSP_*
};
static_assert(sizeof(netif_rx_response) == 8);

inline constexpr int16_t XEN_NETIF_RSP_DROPPED = -2;
inline constexpr int16_t XEN_NETIF_RSP_ERROR = -1;
inline constexpr int16_t XEN_NETIF_RSP_OKAY = 0;
inline constexpr int16_t XEN_NETIF_RSP_NULL = 1;  // answers an extra-info slot

inline constexpr uint32_t XEN_NETIF_MAX_TX_SIZE = 0xFFFF;
// A packet may use at most this many tx slots (Linux netback's
// XEN_NETBK_LEGACY_SLOTS_MAX; more is a malformed packet).
inline constexpr unsigned XEN_NETIF_NR_SLOTS_MIN = 18;

using TxFrontRing = xen::ring::FrontRing<netif_tx_request, netif_tx_response>;
using TxBackRing = xen::ring::BackRing<netif_tx_request, netif_tx_response>;
using RxFrontRing = xen::ring::FrontRing<netif_rx_request, netif_rx_response>;
using RxBackRing = xen::ring::BackRing<netif_rx_request, netif_rx_response>;
static_assert(xen::ring::ring_size(kPageSize, sizeof(TxBackRing::Entry)) == 256);
static_assert(xen::ring::ring_size(kPageSize, sizeof(RxBackRing::Entry)) == 256);

}  // namespace xen::netif

// ---- Xen's and Linux's spellings (public/io/netif.h; Linux's
// include/xen/interface/io/netif.h); see xen.h ----
// Xen's names above are made visible at xen:: scope (the same objects);
// Linux's variants (XEN_NETTXF_*, XEN_NETRXF_*, xen_netif_*) and Xen's
// NETIF_RSP_* are aliases of them.
namespace xen {
using netif::NETTXF_csum_blank;
using netif::NETTXF_data_validated;
using netif::NETTXF_more_data;
using netif::NETTXF_extra_info;
using netif::NETRXF_data_validated;
using netif::NETRXF_csum_blank;
using netif::NETRXF_more_data;
using netif::NETRXF_extra_info;
using netif::NETRXF_gso_prefix;
using netif::XEN_NETIF_EXTRA_TYPE_NONE;
using netif::XEN_NETIF_EXTRA_TYPE_GSO;
using netif::XEN_NETIF_EXTRA_TYPE_MCAST_ADD;
using netif::XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
using netif::XEN_NETIF_EXTRA_TYPE_HASH;
using netif::XEN_NETIF_EXTRA_TYPE_XDP;
using netif::XEN_NETIF_EXTRA_TYPE_MAX;
using netif::XEN_NETIF_EXTRA_FLAG_MORE;
using netif::XEN_NETIF_GSO_TYPE_NONE;
using netif::XEN_NETIF_GSO_TYPE_TCPV4;
using netif::XEN_NETIF_GSO_TYPE_TCPV6;
using netif::XEN_NETIF_RSP_DROPPED;
using netif::XEN_NETIF_RSP_ERROR;
using netif::XEN_NETIF_RSP_OKAY;
using netif::XEN_NETIF_RSP_NULL;
using netif::XEN_NETIF_MAX_TX_SIZE;
using netif::XEN_NETIF_NR_SLOTS_MIN;
inline constexpr int16_t NETIF_RSP_DROPPED = netif::XEN_NETIF_RSP_DROPPED;
inline constexpr int16_t NETIF_RSP_ERROR = netif::XEN_NETIF_RSP_ERROR;
inline constexpr int16_t NETIF_RSP_OKAY = netif::XEN_NETIF_RSP_OKAY;
inline constexpr int16_t NETIF_RSP_NULL = netif::XEN_NETIF_RSP_NULL;
inline constexpr uint16_t XEN_NETTXF_csum_blank = netif::NETTXF_csum_blank;
inline constexpr uint16_t XEN_NETTXF_data_validated = netif::NETTXF_data_validated;
inline constexpr uint16_t XEN_NETTXF_more_data = netif::NETTXF_more_data;
inline constexpr uint16_t XEN_NETTXF_extra_info = netif::NETTXF_extra_info;
inline constexpr uint16_t XEN_NETRXF_data_validated = netif::NETRXF_data_validated;
inline constexpr uint16_t XEN_NETRXF_csum_blank = netif::NETRXF_csum_blank;
inline constexpr uint16_t XEN_NETRXF_more_data = netif::NETRXF_more_data;
inline constexpr uint16_t XEN_NETRXF_extra_info = netif::NETRXF_extra_info;
inline constexpr uint16_t XEN_NETRXF_gso_prefix = netif::NETRXF_gso_prefix;

using netif::netif_tx_request;
using netif::netif_extra_info;
using netif::netif_tx_response;
using netif::netif_rx_request;
using netif::netif_rx_response;
using xen_netif_tx_request = netif::netif_tx_request;
using xen_netif_extra_info = netif::netif_extra_info;
using xen_netif_tx_response = netif::netif_tx_response;
using xen_netif_rx_request = netif::netif_rx_request;
using xen_netif_rx_response = netif::netif_rx_response;
}  // namespace xen
