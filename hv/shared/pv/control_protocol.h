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
  // Save and restore (hv/save/, docs/save-format.md): 80..89. These answer
  // twice: a Reply with status kArmed once pv-hv waits for the guest (the
  // caller then writes control/shutdown = suspend), then the final one; a
  // request refused at once (EINVAL, EBUSY, ESRCH) gets only the final one.
  // value: how long to wait for the guest's SHUTDOWN_suspend, in ms.
  kCheckpoint = 80,  // the guest suspends and carries on (its hypercall returns 1); final status 0 or -ETIMEDOUT
  // As kCheckpoint, and while the guest is suspended pv-hv writes the save
  // stream to the descriptor sent with the request (SCM_RIGHTS), with every
  // other vCPU paused; -EBADF without a descriptor, -EIO when writing
  // failed (or a vCPU did not pause).
  // A second descriptor may follow: the toolstack's part of the stream's
  // configuration record, a serialized pv.state.DomainConfig (at most
  // kMaxToolstackRecord bytes) whose uuid and config_text pv-hv copies in;
  // -EINVAL when it does not parse.
  kCheckpointToFile = 81,
  // As kCheckpointToFile, but the guest does not go on: once the stream is
  // written whole the domain ends with exit status "suspend" (xl save).
  // When writing fails the guest goes on (its suspend is cancelled) and the
  // status is -EIO: a failed save loses nothing.
  kSaveToFile = 82,
  // As kCheckpointToFile, but once the stream is written whole (and synced)
  // pv-hv answers a second interim Reply, status kWritten, and keeps every
  // vCPU still until the requester sends a Request with op kRelease on the
  // same connection (or closes it, or 60 s pass): the toolstack switches the
  // domain's disks to new overlays meanwhile, so the saved memory and the
  // frozen disks are of the same instant (pvctl snapshot-create). Then the
  // guest goes on (its suspend cancelled) and the final status is 0.
  kCheckpointToFileHeld = 83,
  kRelease = 84,  // only after kWritten, on the op's own connection
};
inline constexpr uint64_t kMaxToolstackRecord = 1 << 20;
inline constexpr uint32_t kFirstSaveOp = 80, kLastSaveOp = 89;
inline constexpr int32_t kArmed = 1;    // the interim status of a save op: pv-hv waits for the guest
inline constexpr int32_t kWritten = 2;  // kCheckpointToFileHeld: the stream is written, the guest held

struct Request {
  uint32_t magic;
  uint32_t op;  // Op
  uint64_t value;
};
static_assert(sizeof(Request) == 16);

struct Reply {
  uint32_t magic;
  int32_t status;  // 0, or a negative errno (EINVAL: unknown op or bad value), or kArmed
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
