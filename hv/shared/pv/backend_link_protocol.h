// The back-end link between pv-hv and the back-end daemon pv-backd
// (host-internal, not Xen ABI). Everything a Xen back-end gets from the
// hypervisor, pv-backd gets here, once per domain:
//
// pv-hv listens on a SOCK_SEQPACKET Unix socket (--backend-socket, mode
// 0600). On each connection it first sends a Hello with two descriptors:
// the guest-RAM memfd and the grant-state memfd (pv/grant_shared.h).
// pv-backd maps both and uses grants itself with GrantAccess.
//
// Then pv-backd sends Requests, pv-hv answers each with one Reply:
//  - kBindEvtchn: bind the guest's port `port` (allocated by the guest with
//    alloc_unbound for dom0), passing two eventfds: [0] pv-backd writes it
//    to notify the guest; [1] pv-hv writes it when the guest sends on the
//    port. Status 0 or a negative Xen errno.
//  - kUnbindEvtchn: the port goes back to unbound, as when a Xen back-end
//    closes its end.
// When the connection closes (pv-backd exited or died), pv-hv unbinds every
// port it bound and clears every grant use it still held; a new connection
// (pv-backd restarted) starts from nothing.
#pragma once
#include <cstdint>

namespace pv::belink {

inline constexpr uint32_t kMagic = 0x45425650;  // "PVBE"
inline constexpr uint32_t kVersion = 1;

struct Hello {
  uint32_t magic;
  uint32_t version;
  uint32_t domid;
  uint32_t reserved;
  uint64_t ram_bytes;    // size of fd 0 (guest RAM)
  uint64_t grant_bytes;  // size of fd 1 (GrantShared)
};
static_assert(sizeof(Hello) == 32);

enum class Op : uint32_t { kBindEvtchn = 1, kUnbindEvtchn = 2 };

struct Request {
  Op op;
  uint32_t port;
  uint64_t cookie;  // echoed
};
static_assert(sizeof(Request) == 16);

struct Reply {
  Op op;
  int32_t status;  // 0 or a negative Xen errno
  uint64_t cookie;
};
static_assert(sizeof(Reply) == 16);

}  // namespace pv::belink
