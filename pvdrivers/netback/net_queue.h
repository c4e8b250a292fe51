// One netif queue at work: its own thread and its own io_uring, serving
// the queue's tx ring (guest -> tap) and rx ring (tap -> guest).
//
// Everything the thread waits for is an io_uring completion, so one wait
// covers it all: reads of the guest's kick eventfds (one, or two with split
// event channels), reads from the tap (a pool of buffers, each with a read
// in flight until it holds a frame), writes to the tap (one per frame, from
// a pool of tx buffers; a batch of frames goes in with one submit), and a
// stop eventfd.
//
// Loop: take every tx packet the ring has (while tx buffers are free),
// answer and push responses (notify only if push_responses() says the
// guest asked); deliver queued tap frames while the rx ring has room, push
// once; then, before sleeping, final_check the tx ring (arms req_event) and,
// if a frame waits for rx buffers, arm req_event for the slots it needs.
// A frame that cannot be delivered is held in a bounded queue
// (rx_queue_limit frames, rx_hold) and then dropped and counted.
//
// The packet fd is a tap queue, or in tests any non-blocking datagram fd
// carrying the same virtio_net_hdr + frame messages.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <xen/io/netif.h>

#include "pv/grant_access.h"
#include "netback/rx_path.h"
#include "netback/spoof_filter.h"
#include "netback/vif_stats.h"
#include "pv/unique_fd.h"

namespace pv::netback {

struct QueueParams {
  std::string name;  // for the log: "vif3.0 queue 0"
  xen::netif::TxBackRing tx;
  xen::netif::RxBackRing rx;
  GrantAccess* grants = nullptr;
  int packet_fd = -1;  // non-blocking
  // Event channels: kick eventfds (equal when one channel serves both
  // rings) and how to raise the guest's port(s).
  int tx_kick_fd = -1, rx_kick_fd = -1;
  std::function<void()> notify_tx, notify_rx;
  RxFeatures rx_features;
  bool rx_notify = true;  // the front-end notifies when it posts rx buffers
  SpoofPolicy policy;
  VifStats* stats = nullptr;
  // Called (once, from the queue thread) when the front-end broke a ring.
  std::function<void(const std::string&)> fatal;
  unsigned tx_buffers = 64, rx_buffers = 64, rx_queue_limit = 48;
  std::chrono::milliseconds rx_hold{1000};
};

class NetQueue {
 public:
  explicit NetQueue(QueueParams p);  // starts the thread; throws if io_uring cannot be set up
  ~NetQueue();                       // stops it (in-flight I/O cancelled) and joins
  NetQueue(const NetQueue&) = delete;
  NetQueue& operator=(const NetQueue&) = delete;

 private:
  struct Impl;
  UniqueFd stop_fd_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace pv::netback
