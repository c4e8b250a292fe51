// xenstored inside pvd: the store and protocol (dom0-tools/xenstore), served
// to dom0 clients on a Unix socket (xenstore-utils with XENSTORED_PATH) and
// to each domain over its ring (GuestRingLink). Creates and removes a
// domain's /local/domain/<id> nodes as Xen's toolstack does, and writes
// control/shutdown for pvctl shutdown/reboot.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "asio.h"
#include "device_nodes.h"
#include "guest_ring_link.h"
#include "xenstore/domain_hooks.h"
#include "xenstore/server.h"
#include "xenstore/unix_socket_server.h"

namespace pv::pvd {

class XenstoreHost : public pv::xenstore::DomainHooks {
 public:
  // `state_dir`: where the store is kept across pvd restarts (snapshot and
  // journal, docs/xenstore.md "Durability"); restored here, before any
  // domain is added again.
  XenstoreHost(boost::asio::io_context& io, const std::string& dom0_socket, const std::string& state_dir);
  ~XenstoreHost() override;

  // The domain's pv-hv serves its ring at `link_socket`: connect, introduce
  // the domain and create its nodes. After a pvd restart the restored store
  // already has the domain: its ring is served again, nodes left as they are.
  // `devices`: its split devices' nodes (device_nodes.h), written with the
  // rest before the guest can see its store.
  void add_domain(uint32_t domid, const std::string& name, const std::string& uuid, const std::string& link_socket,
                  std::vector<NodeWrite> devices = {});
  // The domain is gone: release it and remove its nodes.
  void remove_domain(uint32_t domid);
  // After a restart: removes every domain the restored store has
  // introduced but pvd does not know (not in `known`), as remove_domain.
  void forget_domains_except(const std::set<uint32_t>& known);
  // The domain's ring is served and its nodes are written (INTRODUCE done).
  bool introduced(uint32_t domid) const { return server_.is_introduced(static_cast<pv::xenstore::DomId>(domid)); }
  // Writes as dom0 (watches fire); false when the store refused it.
  bool write(const std::string& path, const std::string& value);
  // Reads as dom0; nullopt when the node is absent or unreadable.
  std::optional<std::string> read(const std::string& path);
  // Removes a node and everything under it, as dom0; false when refused
  // (or absent).
  bool remove(const std::string& path);
  // Writes device nodes (device_nodes.h) as dom0, in order (hot-plug).
  void write_devices(const std::vector<NodeWrite>& nodes);

  // DomainHooks: INTRODUCE succeeds for a domain whose link is up.
  int introduce(pv::xenstore::DomId domid, uint64_t gfn, uint32_t evtchn) override;
  void release(pv::xenstore::DomId domid) override;

 private:
  bool request(pv::xenstore::MsgType type, const std::string& payload);  // as dom0
  // The reply's payload, nullopt for an error reply (logged).
  std::optional<std::string> ask(pv::xenstore::MsgType type, const std::string& payload);
  void create_nodes(uint32_t domid, const std::string& name, const std::string& uuid);
  // Where a domain's ring keeps a request longer than the ring (GuestRingLink).
  std::string partial_request_path(uint32_t domid) const;
  std::map<uint32_t, std::string> vm_paths_;  // /vm/<uuid> of each domain

  boost::asio::io_context& io_;
  pv::xenstore::XenstoreServer server_;
  pv::xenstore::UnixSocketServer dom0_socket_;
  std::shared_ptr<pv::xenstore::Connection> self_;  // pvd's own dom0 connection
  uint32_t next_req_ = 1;
  std::map<uint32_t, std::unique_ptr<GuestRingLink>> links_;
  std::string state_dir_;
};

}  // namespace pv::pvd
