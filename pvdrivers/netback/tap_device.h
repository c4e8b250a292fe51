// The host side of a vif: a tap device named vif<domid>.<devid> (as Xen
// names its vifs), one file descriptor per netif queue (IFF_MULTI_QUEUE
// when there are several), every frame prefixed by a virtio_net_hdr
// (IFF_VNET_HDR) so checksum and segmentation offloads cross it.
//
// The tap is not persistent: it disappears when the object (and with it
// every queue fd) goes, also when pv-backd dies. Its own MAC is
// fe:ff:ff:ff:ff:ff as Xen's vif scripts set it (a bridge never takes it as
// its address); the guest's MAC is on the other side of the ring.
// Link state and bridge membership go through rtnetlink (pvnet's Netlink).
#pragma once
#include <string>
#include <vector>

#include "pv/unique_fd.h"

namespace pv::netback {

class TapDevice {
 public:
  // Creates the tap with `queues` non-blocking queue fds. Throws with the
  // name and the kernel's reason (e.g. a non-tap link of that name exists).
  TapDevice(const std::string& name, unsigned queues);
  ~TapDevice();
  TapDevice(const TapDevice&) = delete;
  TapDevice& operator=(const TapDevice&) = delete;

  unsigned queues() const { return unsigned(fds_.size()); }
  int fd(unsigned q) const { return fds_[q].get(); }

  // TUN_F_* flags: which offloads we can take in frames read from the tap.
  void set_offload(unsigned tun_flags);
  void set_mtu(unsigned mtu);
  // Brings the link up and, with a non-empty bridge, makes it a port of it.
  void up(const std::string& bridge);

 private:
  std::string name_;
  std::vector<UniqueFd> fds_;
};

}  // namespace pv::netback
