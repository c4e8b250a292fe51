// A guest without a VM, for driving netback's NetQueue directly: guest RAM
// (anonymous memory), a GrantShared region with one grant frame in that
// RAM, the GrantAccess pv-backd would use, netif tx and rx rings in guest
// pages (driven with xen::ring::FrontRing, as netfront does), the event
// channels' eventfds, and a datagram socketpair standing in for the tap:
// the test reads what the back-end "writes to the tap" and writes what
// "the host sends to the guest", each message a virtio_net_hdr + frame.
#pragma once
#include <gtest/gtest.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <xen/grant_table.h>
#include <xen/io/netif.h>

#include "fake_guest_memory.h"
#include "pv/unique_fd.h"
#include "netback/net_queue.h"
#include "netback/vnet_hdr.h"

namespace nettest {

namespace N = xen::netif;
namespace G = xen::gnttab;
using namespace pv::netback;

inline constexpr uint64_t kRamPages = 1024;    // 4 MiB
inline constexpr uint64_t kGrantFrameGfn = 1;  // 512 grant entries
inline constexpr uint64_t kTxRingGfn = 2, kRxRingGfn = 3;
inline constexpr uint64_t kTxDataGfn = 16;   // tx pages: gfn 16.., grant ref == gfn
inline constexpr uint64_t kRxDataGfn = 200;  // rx pages: gfn 200..455, grant ref == gfn
inline constexpr MacAddr kMac = {0x00, 0x16, 0x3e, 0x01, 0x02, 0x03};

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  return backtest::eventually(p, timeout, std::chrono::milliseconds(2));
}

// An Ethernet + IPv4 + UDP frame from `src_mac`/`src_ip` with `payload`
// bytes (pattern), checksums left as given.
inline std::vector<uint8_t> udp_frame(const MacAddr& src_mac, uint32_t src_ip, uint32_t dst_ip, size_t payload,
                                      uint16_t sport = 1000, uint16_t dport = 2000) {
  std::vector<uint8_t> f(14 + 20 + 8 + payload);
  const uint8_t dst[6] = {0x02, 0, 0, 0, 0, 9};
  std::memcpy(f.data(), dst, 6);
  std::memcpy(f.data() + 6, src_mac.data(), 6);
  f[12] = 0x08, f[13] = 0x00;
  uint8_t* ip = f.data() + 14;
  const size_t iplen = 20 + 8 + payload;
  ip[0] = 0x45, ip[2] = uint8_t(iplen >> 8), ip[3] = uint8_t(iplen), ip[8] = 64, ip[9] = 17;
  for (int i = 0; i < 4; i++) ip[12 + i] = uint8_t(src_ip >> (24 - 8 * i)), ip[16 + i] = uint8_t(dst_ip >> (24 - 8 * i));
  uint8_t* udp = ip + 20;
  udp[0] = uint8_t(sport >> 8), udp[1] = uint8_t(sport), udp[2] = uint8_t(dport >> 8), udp[3] = uint8_t(dport);
  udp[4] = uint8_t((8 + payload) >> 8), udp[5] = uint8_t(8 + payload);
  for (size_t i = 0; i < payload; i++) udp[8 + i] = uint8_t(i * 7 + 3);
  return f;
}

inline uint32_t ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return uint32_t(a) << 24 | b << 16 | c << 8 | d; }

class FakeNetGuest : public backtest::FakeGuestMemory {
 public:
  FakeNetGuest() : FakeGuestMemory(kRamPages, 1, kGrantFrameGfn) {
    tx_kick_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    rx_kick_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    irq_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == 0) {
      host_.reset(sv[0]);
      tap_.reset(sv[1]);
      int big = 4 << 20;
      for (int fd : sv) {
        ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
      }
      ::fcntl(tap_.get(), F_SETFL, O_NONBLOCK);
    }
  }
  ~FakeNetGuest() { queue_.reset(); }

  // Starts a queue over fresh rings. `adjust` may change the parameters.
  void start(RxFeatures rx = {}, SpoofPolicy policy = {kMac, {}}, bool split = true,
             std::function<void(QueueParams&)> adjust = {}) {
    std::memset(page(kTxRingGfn), 0, 4096);
    std::memset(page(kRxRingGfn), 0, 4096);
    tx_ = N::TxFrontRing(page(kTxRingGfn), 4096);
    rx_ = N::RxFrontRing(page(kRxRingGfn), 4096);
    tx_.init_shared();
    rx_.init_shared();
    split_ = split;
    QueueParams p;
    p.name = "test vif";
    p.tx = N::TxBackRing(page(kTxRingGfn), 4096);
    p.rx = N::RxBackRing(page(kRxRingGfn), 4096);
    p.tx.attach_existing();
    p.rx.attach_existing();
    p.grants = &access();
    p.packet_fd = tap_.get();
    p.tx_kick_fd = tx_kick_.get();
    p.rx_kick_fd = split ? rx_kick_.get() : tx_kick_.get();
    const int irq = irq_.get();
    p.notify_tx = p.notify_rx = [irq] {
      const uint64_t one = 1;
      (void)!::write(irq, &one, 8);
    };
    p.rx_features = rx;
    p.policy = std::move(policy);
    p.stats = &stats;
    p.fatal = [this](const std::string& why) {
      std::lock_guard lk(mu_);
      fatal_.push_back(why);
    };
    if (adjust) adjust(p);
    queue_ = std::make_unique<NetQueue>(std::move(p));
  }
  void stop() { queue_.reset(); }

  // ---- tx (guest -> host) ----
  // Copies `data` into tx page `i` at `off`, grants it (ref = gfn).
  xen::grant_ref_t tx_page(unsigned i, const void* data, size_t len, uint16_t off = 0, bool readonly = true) {
    const uint64_t gfn = kTxDataGfn + i;
    std::memcpy(page(gfn) + off, data, len);
    grant(xen::grant_ref_t(gfn), gfn, readonly);
    return xen::grant_ref_t(gfn);
  }
  void queue_tx(const N::netif_tx_request& r) {
    std::memcpy(&tx_.next_request(), &r, sizeof r);
    tx_.req_prod_pvt++;
  }
  void queue_extra(const N::netif_extra_info& e, uint16_t id = 0xeeee) {
    N::netif_tx_request raw{};
    std::memcpy(&raw, &e, sizeof e);
    raw.id = id;
    queue_tx(raw);
  }
  bool push_tx() {
    const bool notify = tx_.push_requests();
    if (notify) {
      const uint64_t one = 1;
      (void)!::write(tx_kick_.get(), &one, 8);
      kicks_sent++;
    }
    return notify;
  }
  // A whole single-slot frame from tx page `i`.
  void send_frame(unsigned i, const std::vector<uint8_t>& f, uint16_t id, uint16_t flags = 0) {
    queue_tx({tx_page(i, f.data(), f.size()), 0, flags, id, uint16_t(f.size())});
  }
  // Collects `n` tx responses (arming rsp_event as netfront does).
  std::vector<N::netif_tx_response> tx_responses(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<N::netif_tx_response> out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      bool more = true;
      while (more && out.size() < n) {
        while (tx_.has_unconsumed_responses() && out.size() < n) out.push_back(tx_.response(tx_.rsp_cons++));
        more = tx_.final_check_for_responses();
      }
      if (out.size() < n) wait_irq(20);
    }
    return out;
  }
  // What the back-end wrote to the "tap": virtio header + frame.
  struct TapPacket {
    VnetHdr hdr{};
    std::vector<uint8_t> frame;
  };
  std::vector<TapPacket> tap_packets(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<TapPacket> out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    std::vector<uint8_t> buf(70000);
    while (out.size() < n) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{host_.get(), POLLIN, 0};
      if (::poll(&p, 1, int(left.count())) != 1) break;
      const ssize_t got = ::recv(host_.get(), buf.data(), buf.size(), 0);
      if (got < ssize_t(sizeof(VnetHdr))) continue;
      TapPacket t;
      std::memcpy(&t.hdr, buf.data(), sizeof t.hdr);
      t.frame.assign(buf.begin() + sizeof t.hdr, buf.begin() + got);
      out.push_back(std::move(t));
    }
    return out;
  }

  // ---- rx (host -> guest) ----
  // Posts `n` rx buffers (pages kRxDataGfn + k, ref = gfn, id = ring index).
  void post_rx(unsigned n, bool readonly = false, bool push = true) {
    for (unsigned k = 0; k < n; k++) {
      const uint32_t idx = rx_.req_prod_pvt;
      const uint64_t gfn = kRxDataGfn + (idx & 255);
      grant(xen::grant_ref_t(gfn), gfn, readonly);
      N::netif_rx_request& r = rx_.next_request();
      r.id = uint16_t(idx & 255);
      r.gref = xen::grant_ref_t(gfn);
      rx_.req_prod_pvt++;
    }
    if (push && rx_.push_requests()) {
      const uint64_t one = 1;
      (void)!::write(split_ ? rx_kick_.get() : tx_kick_.get(), &one, 8);
      kicks_sent++;
    }
  }
  // "The host sends": one tap message.
  void host_send(const std::vector<uint8_t>& frame, VnetHdr h = {}) {
    std::vector<uint8_t> m(sizeof h + frame.size());
    std::memcpy(m.data(), &h, sizeof h);
    std::memcpy(m.data() + sizeof h, frame.data(), frame.size());
    ASSERT_EQ(::send(host_.get(), m.data(), m.size(), 0), ssize_t(m.size()));
  }
  struct RxSlot {
    N::netif_rx_response rsp;
    N::netif_extra_info extra;  // valid when the previous slot said extra_info
    bool is_extra = false;
    std::vector<uint8_t> data;
  };
  // Collects `n` rx response slots.
  std::vector<RxSlot> rx_slots(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<RxSlot> out;
    bool next_extra = false;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      bool more = true;
      while (more && out.size() < n) {
        while (rx_.has_unconsumed_responses() && out.size() < n) {
          const uint32_t i = rx_.rsp_cons++;
          RxSlot s{};
          if (next_extra) {
            std::memcpy(&s.extra, &rx_.slot(i), sizeof s.extra);
            s.is_extra = true;
            next_extra = s.extra.flags & N::XEN_NETIF_EXTRA_FLAG_MORE;
          } else {
            s.rsp = rx_.response(i);
            next_extra = s.rsp.flags & N::NETRXF_extra_info;
            if (s.rsp.status > 0) {
              const uint8_t* p = page(kRxDataGfn + s.rsp.id) + s.rsp.offset;
              s.data.assign(p, p + s.rsp.status);
            }
          }
          out.push_back(std::move(s));
        }
        more = rx_.final_check_for_responses();
      }
      if (out.size() < n) wait_irq(20);
    }
    return out;
  }
  bool rx_idle_for(std::chrono::milliseconds d) {
    std::this_thread::sleep_for(d);
    return !rx_.has_unconsumed_responses();
  }

  void overflow_tx_ring() {
    xen::ring::store_idx(&tx_.header()->req_prod, tx_.header()->rsp_prod + 16 * 256);
    const uint64_t one = 1;
    (void)!::write(tx_kick_.get(), &one, 8);
  }
  std::vector<std::string> fatal() {
    std::lock_guard lk(mu_);
    return fatal_;
  }
  uint64_t irqs() {
    uint64_t v;
    if (::read(irq_.get(), &v, 8) == 8) irqs_seen += v;
    return irqs_seen;
  }

  VifStats stats;
  uint64_t irqs_seen = 0, kicks_sent = 0;
  N::TxFrontRing tx_;
  N::RxFrontRing rx_;

 private:
  void wait_irq(int ms) {
    pollfd p{irq_.get(), POLLIN, 0};
    ::poll(&p, 1, ms);
    irqs();
  }

  pv::UniqueFd tx_kick_, rx_kick_, irq_, host_, tap_;
  bool split_ = true;
  std::unique_ptr<NetQueue> queue_;
  std::mutex mu_;
  std::vector<std::string> fatal_;
};

}  // namespace nettest
