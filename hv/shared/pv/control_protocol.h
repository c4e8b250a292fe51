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
  // Live migration's source (pvctl migrate; docs/save-format.md, "Live
  // migration"): pv-hv writes a format-2 stream to the descriptor sent
  // (a pipe or socket pvd relays) while the guest runs: all its memory,
  // then passes of the frames dirtied meanwhile (KVM's dirty log, with the
  // frames the host and pv-backd wrote), each reported by an interim
  // PassReport (status kPass), until the frames left would take at most
  // the downtime limit to send, or the passes run out. Then it arms the
  // suspend (interim kArmed: the caller writes control/shutdown), and once
  // the guest has suspended (interim kStopped) sends the last pass with
  // every vCPU still and the rest of the state, and holds the guest as
  // kCheckpointToFileHeld does (interim kWritten, then kRelease or the
  // connection closing lets it go on; the caller destroys the domain once
  // it runs on the target). value: LiveParams::encode().
  kMigrateLive = 85,
  // pv-hv --paused: the vCPUs start once this comes (the target of a
  // migration starts the domain when the source says go). Final status 0,
  // or -EALREADY when it runs already.
  kUnpause = 86,
};

// kMigrateLive's value: how long to wait for the guest's suspend (ms, low
// 32 bits), the downtime limit (ms, bits 32..47) and the most pre-copy
// passes (bits 48..63).
struct LiveParams {
  uint32_t suspend_timeout_ms = 0;
  uint16_t max_downtime_ms = 0;
  uint16_t max_passes = 0;
  uint64_t encode() const {
    return uint64_t{suspend_timeout_ms} | uint64_t{max_downtime_ms} << 32 | uint64_t{max_passes} << 48;
  }
  static LiveParams decode(uint64_t v) {
    return {static_cast<uint32_t>(v), static_cast<uint16_t>(v >> 32), static_cast<uint16_t>(v >> 48)};
  }
};
inline constexpr uint64_t kMaxToolstackRecord = 1 << 20;
inline constexpr uint32_t kFirstSaveOp = 80, kLastSaveOp = 89;
inline constexpr int32_t kArmed = 1;    // the interim status of a save op: pv-hv waits for the guest
inline constexpr int32_t kWritten = 2;  // kCheckpointToFileHeld: the stream is written, the guest held
inline constexpr int32_t kPass = 3;     // kMigrateLive: a pre-copy pass is sent (the Reply is a PassReport)
inline constexpr int32_t kStopped = 4;  // kMigrateLive: the guest suspended; the last pass is being sent

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

// An interim Reply of kMigrateLive with status kPass, laid over Reply.
struct PassReport {
  uint32_t magic;
  int32_t status;                 // kPass
  uint32_t pass;                  // the pass just sent (0: all memory)
  uint32_t estimated_downtime_ms; // what sending dirty_frames would take now
  uint64_t frames_sent;           // in this pass
  uint64_t stream_bytes;          // written so far
  uint64_t dirty_frames;          // dirtied while it was sent: the next pass
  uint64_t dirty_rate;            // frames per second, over this pass
  uint64_t bandwidth;             // bytes per second, over this pass
};
static_assert(sizeof(PassReport) == sizeof(Reply));

}  // namespace pv::ctl
