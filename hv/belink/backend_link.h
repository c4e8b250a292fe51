// pv-hv's end of the back-end link (see protocol.h): gives pv-backd the
// domain's RAM and grant state, binds the event channels of its devices,
// and relays their notifications. One thread: it accepts pv-backd (a new
// connection replaces the old one, as after a pv-backd restart), answers
// its requests, and raises a guest port when pv-backd writes that port's
// eventfd. A guest's send on a bound port writes the other eventfd straight
// from the vCPU thread, so neither direction waits on anything but the
// kernel.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "pv/backend_link_protocol.h"
#include "evtchn/event_channels.h"
#include "gnttab/grant_table.h"
#include "memory/guest_memory.h"
#include "pv/unique_fd.h"

namespace pv {

class BackendLink {
 public:
  BackendLink(const std::string& socket_path, uint32_t domid, const GuestMemory& mem, GrantTable& gnttab,
              EventChannels& evtchn);
  ~BackendLink();
  BackendLink(const BackendLink&) = delete;
  BackendLink& operator=(const BackendLink&) = delete;

 private:
  struct Binding {
    int32_t token;
    UniqueFd to_guest;    // pv-backd writes: raise the port
    // We write it when the guest sent on the port; shared with the send
    // handler, which a vCPU may still be running after an unbind.
    std::shared_ptr<UniqueFd> from_guest;
  };

  void run();
  void accept_client();
  void drop_client(bool report = true);  // unbinds everything, releases grant uses
  void serve_request();
  int32_t bind(uint32_t port, UniqueFd to_guest, UniqueFd from_guest);
  void unbind(uint32_t port);

  std::string path_;
  belink::Hello hello_;
  const GuestMemory& mem_;
  GrantTable& gnttab_;
  EventChannels& evtchn_;
  UniqueFd listen_fd_, wake_fd_, client_fd_;
  std::mutex mu_;  // bindings_ (vCPU threads read from_guest through handlers)
  std::map<uint32_t, Binding> bindings_;
  std::thread thread_;
};

}  // namespace pv
