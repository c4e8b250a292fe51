#include "netback/tap_device.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "netback/vnet_hdr.h"
#include "pv/netlink.h"
#include "pv/error.h"

namespace pv::netback {
namespace {

void ifreq_name(ifreq& r, const std::string& name) {
  std::memset(&r, 0, sizeof r);
  std::strncpy(r.ifr_name, name.c_str(), IFNAMSIZ - 1);
}

// SIOCSIF* on a throw-away socket of this network namespace.
void if_ioctl(unsigned long req, ifreq& r, const std::string& what) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) throw_errno("socket(ioctl)");
  if (::ioctl(s.get(), req, &r) != 0) throw_errno(what);
}

}  // namespace

TapDevice::TapDevice(const std::string& name, unsigned queues) : name_(name) {
  if (name.empty() || name.size() >= IFNAMSIZ) throw UserError("tap name '" + name + "' is not a valid link name");
  if (queues == 0) queues = 1;
  for (unsigned q = 0; q < queues; q++) {
    UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) throw_errno("open(/dev/net/tun) for " + name);
    ifreq r;
    ifreq_name(r, name);
    r.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (queues > 1 ? IFF_MULTI_QUEUE : 0);
    if (::ioctl(fd.get(), TUNSETIFF, &r) != 0)
      throw_errno("cannot create tap " + name + (q ? " (queue " + std::to_string(q) + ")" : ""));
    if (q == 0) {
      const int hdr = sizeof(VnetHdr);
      if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &hdr) != 0) throw_errno("TUNSETVNETHDRSZ on " + name);
      // Our tap only while we hold it: it goes when pv-backd does.
      if (::ioctl(fd.get(), TUNSETPERSIST, 0) != 0) throw_errno("TUNSETPERSIST on " + name);
    }
    fds_.push_back(std::move(fd));
  }
  ifreq r;
  ifreq_name(r, name);
  r.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memset(r.ifr_hwaddr.sa_data, 0xff, 6);
  r.ifr_hwaddr.sa_data[0] = char(0xfe);
  if_ioctl(SIOCSIFHWADDR, r, "cannot set the MAC address of " + name);
}

TapDevice::~TapDevice() = default;

void TapDevice::set_offload(unsigned tun_flags) {
  if (::ioctl(fds_.at(0).get(), TUNSETOFFLOAD, tun_flags) != 0) throw_errno("TUNSETOFFLOAD on " + name_);
}

void TapDevice::set_mtu(unsigned mtu) {
  ifreq r;
  ifreq_name(r, name_);
  r.ifr_mtu = int(mtu);
  if_ioctl(SIOCSIFMTU, r, "cannot set MTU " + std::to_string(mtu) + " on " + name_);
}

void TapDevice::up(const std::string& bridge) {
  try {
    net::Netlink nl;
    if (!bridge.empty()) {
      const auto br = nl.find_link(bridge);
      if (!br) throw UserError("bridge " + bridge + " does not exist");
      if (br->kind != "bridge") throw UserError(bridge + " is not a bridge");
      nl.set_master(name_, bridge);
    }
    nl.set_up(name_, true);
  } catch (const UserError&) {
    throw;
  } catch (const std::exception& e) {
    throw UserError(name_ + ": " + e.what());
  }
}

}  // namespace pv::netback
