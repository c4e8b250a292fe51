// pv-backd's end of the back-end link to one domain's pv-hv
// (hv/shared/pv/backend_link_protocol.h): the guest's RAM and grant state mapped here, and
// the event channels of this domain's devices.
//
// Everything a device touches in guest memory goes through grants:
// MappedGrant (one page, for data) and RingMapping (the pages of a shared
// ring, made contiguous in our address space as a Xen back-end maps them).
// Both hold their grant uses until destroyed.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <xen/xen.h>

#include "pv/grant_access.h"
#include "pv/mapping.h"
#include "pv/unique_fd.h"

namespace pv {

class DomainLink;

// One bound event channel: notify() raises the guest's port; kick_fd()
// becomes readable (an eventfd counter) when the guest sent on it.
class BoundEvtchn {
 public:
  BoundEvtchn(std::shared_ptr<DomainLink> link, uint32_t port, UniqueFd to_guest, UniqueFd from_guest);
  ~BoundEvtchn();  // unbinds (if the link is still up)
  BoundEvtchn(const BoundEvtchn&) = delete;
  BoundEvtchn& operator=(const BoundEvtchn&) = delete;
  uint32_t port() const { return port_; }
  void notify() const;
  int kick_fd() const { return from_guest_.get(); }
  // Reads and clears the kick counter; true if the guest had sent.
  bool consume_kick() const;

 private:
  std::shared_ptr<DomainLink> link_;
  uint32_t port_;
  UniqueFd to_guest_, from_guest_;
};

class MappedGrant {
 public:
  MappedGrant() = default;
  MappedGrant(GrantAccess* access, xen::grant_ref_t ref, bool write, uint8_t* page)
      : access_(access), ref_(ref), write_(write), page_(page) {}
  ~MappedGrant() { reset(); }
  MappedGrant(MappedGrant&& o) noexcept { *this = std::move(o); }
  MappedGrant& operator=(MappedGrant&& o) noexcept;
  MappedGrant(const MappedGrant&) = delete;
  MappedGrant& operator=(const MappedGrant&) = delete;
  uint8_t* data() const { return page_; }
  bool writable() const { return write_; }
  xen::grant_ref_t ref() const { return ref_; }
  explicit operator bool() const { return page_ != nullptr; }
  void reset();

 private:
  GrantAccess* access_ = nullptr;
  xen::grant_ref_t ref_ = 0;
  bool write_ = false;
  uint8_t* page_ = nullptr;
};

// One granted guest page mapped with the grant rules of GrantAccess (the
// back-end is domain 0): empty, with the GNTST_* reason in *status, when
// the grant does not allow it. Works on any GrantAccess (a unit test's
// fake guest too); DomainLink::map_grant() is this on the domain's grants.
MappedGrant map_granted_page(GrantAccess& grants, xen::grant_ref_t ref, bool write, int16_t* status = nullptr);

class RingMapping {
 public:
  RingMapping() = default;
  RingMapping(Mapping map, std::vector<MappedGrant> grants) : map_(std::move(map)), grants_(std::move(grants)) {}
  uint8_t* data() const { return map_.data(); }
  uint64_t bytes() const { return map_.size(); }

 private:
  Mapping map_;
  std::vector<MappedGrant> grants_;
};

class DomainLink : public std::enable_shared_from_this<DomainLink> {
 public:
  // Connects to pv-hv's back-end socket; throws with a message naming the
  // domain when it is not there or answers wrongly.
  static std::shared_ptr<DomainLink> connect(const std::string& socket_path, uint32_t domid);
  ~DomainLink();

  uint32_t domid() const { return domid_; }
  uint64_t ram_bytes() const { return ram_.size(); }
  GrantAccess& grants() { return *access_; }
  // False once pv-hv closed the link (the domain is gone).
  bool alive() const;

  // Grant use on behalf of a device whose back-end is domain 0. Return an
  // empty MappedGrant / throw (map_ring) with the GNTST_* reason.
  MappedGrant map_grant(xen::grant_ref_t ref, bool write, int16_t* status = nullptr);
  RingMapping map_ring(const std::vector<xen::grant_ref_t>& refs);

  // Binds the guest's port (allocated by the guest for dom0). Throws.
  std::unique_ptr<BoundEvtchn> bind(uint32_t port);

 private:
  friend class BoundEvtchn;
  DomainLink() = default;
  int32_t call(uint32_t op, uint32_t port, const std::vector<int>& fds);
  void unbind(uint32_t port);

  uint32_t domid_ = 0;
  UniqueFd sock_, ram_fd_;
  Mapping ram_, grant_state_;
  std::unique_ptr<GrantAccess> access_;
  mutable std::mutex mu_;
  uint64_t next_cookie_ = 1;
};

}  // namespace pv
