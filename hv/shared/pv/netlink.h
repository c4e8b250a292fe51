// rtnetlink through libmnl: the link and address operations pvd needs for
// its networks and pv-backd for its vifs' taps. One Netlink owns one
// NETLINK_ROUTE socket, bound in the network namespace of the thread that
// creates it; every operation waits for the kernel's answer and throws
// pv::SystemError saying what failed and why, in the kernel's words
// ("cannot create bridge pvbr-nat1: File exists").
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace pv::net {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", "tun", ... ("" for plain devices)
  unsigned flags = 0;  // IFF_*
  int master = 0;      // ifindex of the bridge it is a port of, 0 if none
};

struct Ipv4Address {
  int index = 0;  // the link's
  uint32_t address = 0;  // host byte order
  unsigned prefix = 0;
};

class Netlink {
 public:
  Netlink();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  std::optional<LinkInfo> find_link(const std::string& name);
  bool link_exists(const std::string& name) { return find_link(name).has_value(); }
  int ifindex(const std::string& name);  // throws when there is no such link
  std::vector<LinkInfo> links();
  std::vector<Ipv4Address> ipv4_addresses();

  void create_bridge(const std::string& name);  // fails if the name is taken
  void delete_link(const std::string& name);
  void set_up(const std::string& name, bool up);
  // Adds (or keeps) addr/prefix on the link, with its broadcast address.
  void add_ipv4(const std::string& name, uint32_t addr, unsigned prefix);
  // Makes `link` a port of `bridge`; an empty bridge releases it.
  void set_master(const std::string& link, const std::string& bridge);

 private:
  using MessageFn = std::function<void(const nlmsghdr*)>;
  // Sends the request and reads until its ACK (or NLMSG_DONE of a dump),
  // passing every data message to `on_message`.
  void transact(nlmsghdr* req, const std::string& what, const MessageFn& on_message = {});
  // The same, returning the error number (0: done) instead of throwing.
  int exchange(nlmsghdr* req, const MessageFn& on_message, std::string* extack);

  mnl_socket* sock_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace pv::net
