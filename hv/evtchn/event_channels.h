// 2-level event channels (Xen's EVTCHN 2L ABI) for one domain.
//
// The pending and mask bitmaps live in the guest's shared_info page and the
// per-vCPU selector and upcall flag in each vcpu_info, exactly where a Xen
// guest looks for them. This class owns the port table, applies every
// EVTCHNOP to it with Xen's rules and error codes, and marks events pending
// with the same atomic bit protocol as Xen. It never blocks and never trusts
// a value read back from guest memory.
//
// Ports whose far end is dom0 (the console, the xenstore ring, later the
// pv-backd devices) are "host ports": a guest send on one calls the host's
// handler, and the host raises them with raise().
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <functional>
#include <mutex>
#include <vector>

#include <xen/event_channel.h>
#include <xen/xen.h>

namespace pv {

class EventChannels {
 public:
  using KickFn = std::function<void(uint32_t vcpu)>;
  using HostHandler = std::function<void()>;
  static constexpr uint32_t kDefaultMaxPorts = 1024;

  EventChannels(xen::domid_t domid, uint32_t nr_vcpus, KickFn kick, uint32_t max_ports = kDefaultMaxPorts);

  // Where shared_info and each vCPU's vcpu_info currently are (host
  // pointers into guest RAM or a host shadow page). vcpu_info may be null.
  // vcpu_info() and is_pending() take no lock: vCPUs call them while
  // holding their own wait lock.
  void set_shared_info(xen::shared_info* s);
  void set_vcpu_info(uint32_t vcpu, xen::vcpu_info* v);
  // Moves shared_info to `to`, carrying its contents (and the vcpu_info
  // slots inside it that vCPUs still use) across atomically.
  void move_shared_info(xen::shared_info* to);
  // Moves a vCPU's vcpu_info to `to` (VCPUOP_register_vcpu_info), copying
  // the old one, then marks everything pending so the guest rescans.
  void move_vcpu_info(uint32_t vcpu, xen::vcpu_info* to);
  xen::shared_info* shared_info() const { return shared_.load(std::memory_order_acquire); }
  xen::vcpu_info* vcpu_info(uint32_t vcpu) const;

  // Guest operations; each returns 0 or a negative Xen errno.
  int64_t alloc_unbound(xen::evtchn::alloc_unbound& a);
  int64_t bind_interdomain(xen::evtchn::bind_interdomain& b);
  int64_t bind_virq(xen::evtchn::bind_virq& b);
  int64_t bind_ipi(xen::evtchn::bind_ipi& b);
  int64_t close(xen::evtchn_port_t port);
  int64_t send(xen::evtchn_port_t port);
  int64_t status(xen::evtchn::status& s);
  int64_t bind_vcpu(xen::evtchn_port_t port, uint32_t vcpu);
  int64_t unmask(xen::evtchn_port_t port);

  // Host side.
  // Allocates a port bound to dom0 whose guest sends call `on_send`.
  xen::evtchn_port_t connect_host(HostHandler on_send);
  // Raises a host port (dom0 -> guest notification).
  bool raise(xen::evtchn_port_t port);
  // The back-end daemon binds a port the guest allocated for dom0
  // (alloc_unbound with remote_dom 0), as Xen's bind_interdomain from the
  // back-end's side. 0 and a token naming this binding, or a negative Xen
  // errno (-XEN_EINVAL: no such port or not unbound for dom0).
  int64_t bind_host(xen::evtchn_port_t port, HostHandler on_send, int32_t& token);
  // Raises the port only while it is still the binding `token` made (the
  // guest may have closed it, and the number may since name another port).
  bool raise_host(xen::evtchn_port_t port, int32_t token);
  // The back-end closed its end: the guest's port is unbound again (for
  // dom0), as in Xen. No-op if the binding is already gone.
  void unbind_host(xen::evtchn_port_t port, int32_t token);
  // Raises a VIRQ if the guest bound it (`vcpu` is 0 for a global VIRQ);
  // false otherwise.
  bool raise_virq(uint32_t virq, uint32_t vcpu);
  bool is_pending(xen::evtchn_port_t port) const;
  // Makes the vCPU rescan all selectors (used when vcpu_info moves).
  void mark_all_pending(uint32_t vcpu);

  uint32_t max_ports() const { return static_cast<uint32_t>(ports_.size()); }

 private:
  enum class State : uint8_t { kFree, kReserved, kUnbound, kInterdomain, kVirq, kIpi };
  struct Port {
    State state = State::kFree;
    uint32_t vcpu = 0;            // vCPU notified
    xen::domid_t remote_dom = 0;  // unbound / interdomain
    uint32_t remote_port = 0;     // interdomain (own domain)
    uint32_t virq = 0;
    int32_t host = -1;            // index into host_handlers_ when bound to dom0
  };

  bool valid(xen::evtchn_port_t p) const { return p < ports_.size(); }
  // Per-vCPU VIRQs are bound in their vCPU's table, global ones in vCPU 0's
  // (whichever vCPU they notify), as in Xen.
  static uint32_t virq_table(const Port& p) { return xen::virq::is_per_vcpu(p.virq) ? p.vcpu : 0; }
  bool own_domain(xen::domid_t d) const { return d == xen::DOMID_SELF || d == domid_; }
  int64_t alloc_port();  // lowest free port, or -ENOSPC
  void set_pending(xen::evtchn_port_t port);     // caller holds mu_
  void mark_vcpu_pending(uint32_t vcpu, unsigned word);  // caller holds mu_
  void free_port(xen::evtchn_port_t port);       // caller holds mu_

  const xen::domid_t domid_;
  const uint32_t nr_vcpus_;
  KickFn kick_;
  mutable std::mutex mu_;
  std::vector<Port> ports_;
  std::vector<std::vector<int32_t>> virq_port_;  // [vcpu][virq] -> port or -1
  std::vector<HostHandler> host_handlers_;
  // Read without mu_ (by vCPUs deciding whether to wait), so atomic.
  std::atomic<xen::shared_info*> shared_{nullptr};
  std::vector<std::atomic<xen::vcpu_info*>> vcpu_info_;
};

}  // namespace pv
