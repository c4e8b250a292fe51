// pv-hv's control socket (host-internal, not Xen ABI): how pvd tells a
// running pv-hv what only the toolstack may change, and asks what it holds.
// pv-hv listens (--control-socket, SOCK_SEQPACKET, mode 0600, root or its
// own user only); a client connects, sends one Request, reads one Reply.
#pragma once
#include <cstdint>

namespace pv::ctl {

inline constexpr uint32_t kMagic = 0x4c435650;  // "PVCL"

enum class Op : uint32_t {
  kQueryMemory = 1,   // reply only
  kSetMaxMemory = 2,  // value: the new ceiling in 4 KiB frames (xl mem-max)
  kQueryVcpus = 3,    // reply only (every reply carries the vCPU fields)
};

struct Request {
  uint32_t magic;
  uint32_t op;  // Op
  uint64_t value;
};
static_assert(sizeof(Request) == 16);

struct Reply {
  uint32_t magic;
  int32_t status;  // 0, or a negative errno (EINVAL: unknown op or bad value)
  uint64_t current_pages;  // populated RAM frames (XENMEM_current_reservation)
  uint64_t maximum_pages;  // the ceiling (XENMEM_maximum_reservation)
  uint64_t ballooned_pages;  // frames not populated
  uint64_t ram_pages;        // guest RAM (maxmem as booted)
  uint32_t vcpus;            // vCPUs the domain has (maxvcpus)
  uint32_t pad;
  uint64_t vcpus_up;         // bit N: vCPU N is up (VCPUOP_is_up), not offline
};
static_assert(sizeof(Reply) == 56);

}  // namespace pv::ctl
