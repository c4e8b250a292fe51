// pv-hv's end of the xenstore link (see link_protocol.h): serves the
// domain's xenstore ring to pvd's xenstored through a Unix socket. A small
// thread accepts pvd (a new connection replaces the old one, as after a pvd
// restart) and turns its doorbells into notifications of the guest.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "pv/unique_fd.h"
#include "pv/xenstore_link_protocol.h"

namespace pv {

class XenstoreLink {
 public:
  // Listens on `socket_path` (mode 0600). `raise_guest` notifies the
  // guest's xenstore event channel.
  XenstoreLink(const std::string& socket_path, int memfd, const xslink::LinkHello& hello,
               std::function<void()> raise_guest);
  ~XenstoreLink();
  XenstoreLink(const XenstoreLink&) = delete;
  XenstoreLink& operator=(const XenstoreLink&) = delete;

  // The guest notified its xenstore port (called on a vCPU thread).
  void guest_kicked();

 private:
  void run();
  void accept_server();

  std::string path_;
  int memfd_;
  xslink::LinkHello hello_;
  std::function<void()> raise_guest_;
  UniqueFd listen_fd_, wake_fd_;
  std::mutex mu_;  // client_fd_ and kick_pending_
  UniqueFd client_fd_;
  bool kick_pending_ = false;
  std::thread thread_;
};

}  // namespace pv
