// pvd's end of one domain's xenstore link (hv/shared/pv/xenstore_link_protocol.h):
// connects to the socket its pv-hv serves (retrying while pv-hv starts),
// receives the guest-RAM memfd, maps only the xenstore ring page, and moves
// bytes between that ring and the domain's xenstored connection. Every
// index read from the ring is checked; a ring whose indices are impossible
// is a broken connection for that domain only. The indices live in the
// shared page: a link made after a pvd restart carries on from them.
//
// A request that fits in the ring is read only once it is there whole, so a
// pvd killed at any moment leaves nothing half-read. One larger than the ring
// (up to XENSTORE_PAYLOAD_MAX) cannot be: its bytes are taken as they come
// and kept, with the ring index where it began, in `partial_path` until it
// is whole, so the next pvd carries on with it.
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

  // `partial_path`: where a request longer than the ring is kept while it
  // arrives (see above).
  GuestRingLink(boost::asio::io_context& io, pv::xenstore::XenstoreServer& server, uint32_t domid,
                std::string socket_path, std::string partial_path, ReadyFn on_ready);
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
  // Takes ring bytes into partial_ (a request longer than the ring); true
  // when it is whole (then appended to `in` and cleared).
  bool take_partial(uint32_t& cons, uint32_t prod, std::string& in);
  void save_partial() const;
  // A kept partial request, trimmed to what the ring's req_cons says was
  // really taken (pvd may have died between saving and moving req_cons).
  void load_partial();

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
  std::string partial_path_;
  std::string partial_;          // the bytes so far of a request longer than the ring
  uint32_t partial_start_ = 0;   // ring index of its first byte
  std::array<char, 64> bells_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pv::pvd
