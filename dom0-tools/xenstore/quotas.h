// Limits that keep one client from growing xenstored without bound. A
// request over a limit fails with the errno Xen's C xenstored uses (ENOSPC
// for nodes, entry size, permissions and transactions; E2BIG for watches).
#pragma once
#include <cstddef>

namespace pv::xenstore {

struct Quotas {
  // Store limits for unprivileged domains (dom0 is exempt, as in Xen).
  size_t nodes_per_domain = 1000;  // nodes a domain may own
  size_t max_entry_size = 2048;    // bytes in one value
  size_t perms_per_node = 5;       // entries in one SET_PERMS

  // Per-connection limits. dom0 clients get their own, larger ones: Xen
  // exempts dom0, but a runaway dom0 client must still be bounded.
  size_t watches_per_connection = 128;
  size_t transactions_per_connection = 10;
  size_t dom0_watches_per_connection = 8192;
  size_t dom0_transactions_per_connection = 256;

  // Output backlog. While this many replies wait to be sent, no further
  // request is read from that connection (back-pressure on the client).
  size_t max_pending_replies = 64;
  // Watch events for a connection whose unsent output exceeds this are
  // dropped (and counted), instead of queueing without bound.
  size_t max_pending_output_bytes = 1u << 20;
};

}  // namespace pv::xenstore
