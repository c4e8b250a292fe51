#include "pv/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "pv/error.h"

namespace pv::net {
namespace {

constexpr size_t kReceiveBuffer = 32768;  // a dump's messages come in pages this size

// What one request's answers told us.
struct Exchange {
  const std::function<void(const nlmsghdr*)>* on_message = nullptr;
  int error = 0;
  std::string extack;  // the kernel's own explanation, when it gives one
};

int on_data(const nlmsghdr* nlh, void* data) {
  auto* x = static_cast<Exchange*>(data);
  if (x->on_message && *x->on_message) (*x->on_message)(nlh);
  return MNL_CB_OK;
}

int on_extack_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
    static_cast<Exchange*>(data)->extack = mnl_attr_get_str(attr);
  return MNL_CB_OK;
}

int on_error(const nlmsghdr* nlh, void* data) {
  auto* x = static_cast<Exchange*>(data);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    x->error = errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (err->error == 0) return MNL_CB_STOP;  // the ACK
  x->error = -err->error;
  if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
    size_t offset = sizeof(nlmsgerr);
    if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    if (mnl_nlmsg_size(offset) <= nlh->nlmsg_len) mnl_attr_parse(nlh, offset, on_extack_attr, x);
  }
  errno = x->error;
  return MNL_CB_ERROR;
}

int on_done(const nlmsghdr* nlh, void* data) {
  auto* x = static_cast<Exchange*>(data);
  if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(int))) {
    int status;
    std::memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof status);
    if (status < 0) {
      x->error = errno = -status;
      return MNL_CB_ERROR;
    }
  }
  return MNL_CB_STOP;
}

int on_noop(const nlmsghdr*, void*) { return MNL_CB_OK; }

int on_overrun(const nlmsghdr*, void* data) {
  static_cast<Exchange*>(data)->error = errno = ENOBUFS;
  return MNL_CB_ERROR;
}

mnl_cb_t kControl[NLMSG_MIN_TYPE] = {nullptr, on_noop, on_error, on_done, on_overrun};

// The kernel's words, its extended ack when it gave one, and what to do
// about a missing capability.
[[noreturn]] void fail(const std::string& what, int err, const std::string& extack = "") {
  std::string detail = extack;
  if (err == EPERM) detail += std::string(detail.empty() ? "" : "; ") + "this needs CAP_NET_ADMIN (run it as root)";
  throw SystemError(what, err, detail);
}

nlmsghdr* put_header(char* buf, uint16_t type, uint16_t flags) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = type;
  // Every request but a dump asks for an ACK, so that success is an answer
  // too. (NLM_F_DUMP shares bits with NLM_F_EXCL and NLM_F_REPLACE: decide here.)
  nlh->nlmsg_flags = NLM_F_REQUEST | flags | (flags == NLM_F_DUMP ? 0 : NLM_F_ACK);
  return nlh;
}

ifinfomsg* put_ifinfo(nlmsghdr* nlh, int index) {
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  return ifi;
}

int on_linkinfo_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == IFLA_INFO_KIND && mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0)
    static_cast<LinkInfo*>(data)->kind.assign(static_cast<const char*>(mnl_attr_get_payload(attr)),
                                              strnlen(static_cast<const char*>(mnl_attr_get_payload(attr)),
                                                      mnl_attr_get_payload_len(attr)));
  return MNL_CB_OK;
}

int on_link_attr(const nlattr* attr, void* data) {
  auto* link = static_cast<LinkInfo*>(data);
  switch (mnl_attr_get_type(attr)) {
    case IFLA_IFNAME:
      if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0) link->name = mnl_attr_get_str(attr);
      break;
    case IFLA_MASTER:
      if (mnl_attr_validate(attr, MNL_TYPE_U32) >= 0) link->master = static_cast<int>(mnl_attr_get_u32(attr));
      break;
    case IFLA_LINKINFO:
      if (mnl_attr_validate(attr, MNL_TYPE_NESTED) >= 0) mnl_attr_parse_nested(attr, on_linkinfo_attr, link);
      break;
  }
  return MNL_CB_OK;
}

LinkInfo parse_link(const nlmsghdr* nlh) {
  LinkInfo link;
  if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return link;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  link.index = ifi->ifi_index;
  link.flags = ifi->ifi_flags;
  mnl_attr_parse(nlh, sizeof(ifinfomsg), on_link_attr, &link);
  return link;
}

int on_addr_attr(const nlattr* attr, void* data) {
  auto* a = static_cast<std::pair<uint32_t, uint32_t>*>(data);  // IFA_LOCAL, IFA_ADDRESS
  const int type = mnl_attr_get_type(attr);
  if ((type == IFA_LOCAL || type == IFA_ADDRESS) && mnl_attr_validate(attr, MNL_TYPE_U32) >= 0)
    (type == IFA_LOCAL ? a->first : a->second) = ntohl(mnl_attr_get_u32(attr));
  return MNL_CB_OK;
}

}  // namespace

Netlink::Netlink() {
  sock_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!sock_) fail("cannot open an rtnetlink socket", errno);
  int on = 1;
  // The kernel's explanations of refusals, and ACKs without the request echoed.
  mnl_socket_setsockopt(sock_, NETLINK_EXT_ACK, &on, sizeof on);
  mnl_socket_setsockopt(sock_, NETLINK_CAP_ACK, &on, sizeof on);
  if (mnl_socket_bind(sock_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(sock_);
    fail("cannot bind an rtnetlink socket", err);
  }
  portid_ = mnl_socket_get_portid(sock_);
  seq_ = static_cast<uint32_t>(std::time(nullptr));
}

Netlink::~Netlink() { mnl_socket_close(sock_); }

int Netlink::exchange(nlmsghdr* req, const MessageFn& on_message, std::string* extack) {
  req->nlmsg_seq = ++seq_;
  if (mnl_socket_sendto(sock_, req, req->nlmsg_len) < 0) return errno;
  Exchange x;
  x.on_message = &on_message;
  std::vector<char> buf(kReceiveBuffer);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(sock_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    const int rc = mnl_cb_run2(buf.data(), static_cast<size_t>(n), req->nlmsg_seq, portid_, on_data, &x, kControl,
                               NLMSG_MIN_TYPE);
    if (rc == MNL_CB_ERROR) {
      *extack = x.extack;
      return x.error ? x.error : errno;
    }
    if (rc == MNL_CB_STOP) return 0;
  }
}

void Netlink::transact(nlmsghdr* req, const std::string& what, const MessageFn& on_message) {
  std::string extack;
  if (const int err = exchange(req, on_message, &extack)) fail(what, err, extack);
}

std::optional<LinkInfo> Netlink::find_link(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_GETLINK, 0);
  put_ifinfo(nlh, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::optional<LinkInfo> found;
  std::string extack;
  const int err = exchange(nlh, [&](const nlmsghdr* m) {
    LinkInfo l = parse_link(m);
    if (l.index) found = std::move(l);
  }, &extack);
  if (err == ENODEV) return std::nullopt;
  if (err) fail("cannot look up link " + name, err, extack);
  return found;
}

int Netlink::ifindex(const std::string& name) {
  auto link = find_link(name);
  if (!link) fail("no network interface named " + name, ENODEV);
  return link->index;
}

std::vector<LinkInfo> Netlink::links() {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_GETLINK, NLM_F_DUMP);
  put_ifinfo(nlh, 0);
  mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  std::vector<LinkInfo> out;
  transact(nlh, "cannot list network interfaces", [&](const nlmsghdr* m) {
    LinkInfo l = parse_link(m);
    if (l.index) out.push_back(std::move(l));
  });
  return out;
}

std::vector<Ipv4Address> Netlink::ipv4_addresses() {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_GETADDR, NLM_F_DUMP);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  std::vector<Ipv4Address> out;
  transact(nlh, "cannot list IPv4 addresses", [&](const nlmsghdr* m) {
    if (m->nlmsg_type != RTM_NEWADDR || m->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return;
    const auto* a = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(m));
    if (a->ifa_family != AF_INET) return;
    std::pair<uint32_t, uint32_t> addrs{0, 0};
    mnl_attr_parse(m, sizeof(ifaddrmsg), on_addr_attr, &addrs);
    out.push_back({static_cast<int>(a->ifa_index), addrs.first ? addrs.first : addrs.second, a->ifa_prefixlen});
  });
  return out;
}

void Netlink::create_bridge(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  put_ifinfo(nlh, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  nlattr* info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(nlh, info);
  transact(nlh, "cannot create bridge " + name);
}

void Netlink::delete_link(const std::string& name) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_DELLINK, 0);
  put_ifinfo(nlh, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  transact(nlh, "cannot delete link " + name);
}

void Netlink::set_up(const std::string& name, bool up) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, 0);
  ifinfomsg* ifi = put_ifinfo(nlh, 0);
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = up ? IFF_UP : 0;
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
  transact(nlh, std::string("cannot set link ") + name + (up ? " up" : " down"));
}

void Netlink::add_ipv4(const std::string& name, uint32_t addr, unsigned prefix) {
  const int index = ifindex(name);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<unsigned char>(prefix);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(index);
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(addr));
  mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(addr));
  mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(addr | ~mask));
  struct in_addr shown{htonl(addr)};
  transact(nlh, "cannot add address " + std::string(inet_ntoa(shown)) + "/" + std::to_string(prefix) + " to " + name);
}

void Netlink::set_master(const std::string& link, const std::string& bridge) {
  const int index = ifindex(link);
  const int master = bridge.empty() ? 0 : ifindex(bridge);
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = put_header(buf, RTM_NEWLINK, 0);
  put_ifinfo(nlh, index);
  mnl_attr_put_u32(nlh, IFLA_MASTER, static_cast<uint32_t>(master));
  transact(nlh, bridge.empty() ? "cannot release " + link + " from its bridge"
                               : "cannot attach " + link + " to bridge " + bridge);
}

}  // namespace pv::net
