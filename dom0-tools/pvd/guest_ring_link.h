// pvd's end of one domain's xenstore link (hv/shared/pv/xenstore_link_protocol.h):
// connects to the socket its pv-hv serves (retrying while pv-hv starts),
// receives the guest-RAM memfd, maps only the xenstore ring page, and moves
// bytes between that ring and the domain's xenstored connection. Every
// index read from the ring is checked; a ring whose indices are impossible
// is a broken connection for that domain only. The indices live in the
// shared page: a link made after a pvd restart carries on from them.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include <xen/xenstore_ring.h>

#include "asio.h"
#include "xenstore/connection.h"
#include "xenstore/server.h"
#include "pv/mapping.h"
#include "pv/xenstore_link_protocol.h"

namespace pv::pvd {

class GuestRingLink {
 public:
  using ReadyFn = std::function<void(const xslink::LinkHello&)>;

  GuestRingLink(boost::asio::io_context& io, pv::xenstore::XenstoreServer& server, uint32_t domid,
                std::string socket_path, ReadyFn on_ready);
  ~GuestRingLink();
  GuestRingLink(const GuestRingLink&) = delete;
  GuestRingLink& operator=(const GuestRingLink&) = delete;

  bool ready() const { return ring_ != nullptr; }
  // Attaches the domain's xenstored connection to the ring (on INTRODUCE).
  void attach();

 private:
  void try_connect();
  bool receive_hello();
  void read_doorbells();
  void process();  // ring <-> connection, then ring the doorbell if anything moved
  void ring_doorbell();
  // `n` bytes of req[] from index `from` (wrapping).
  std::string copy_request(uint32_t from, uint32_t n) const;
  void broken(uint32_t error, const std::string& why);

  boost::asio::io_context& io_;
  pv::xenstore::XenstoreServer& server_;
  uint32_t domid_;
  std::string path_;
  ReadyFn on_ready_;
  boost::asio::local::stream_protocol::socket sock_;
  boost::asio::steady_timer retry_;
  int attempts_ = 0;
  xslink::LinkHello hello_{};
  Mapping ring_page_;  // the one guest page holding the ring
  xen::xenstore::domain_interface* ring_ = nullptr;  // in ring_page_
  std::shared_ptr<pv::xenstore::Connection> conn_;
  std::string out_;  // replies not yet fitting in the ring
  std::array<char, 64> bells_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pv::pvd
