// pv-backd's core: finds back-end devices the way a Xen driver domain
// does, through xenstore. It watches /local/domain/0/backend, creates a
// device object for every <type>/<domid>/<devid> directory of a type it
// serves, advances each device's state machine on every change, and tears
// devices down when their directory goes away. It owns the links to each
// domain's pv-hv, shared by that domain's devices.
//
// xenstored (pvd) may go away and come back (a pvd restart or upgrade):
// the devices keep serving meanwhile (their queues need no xenstore), the
// manager reconnects with backoff, registers its watches again and
// reconciles: devices still in the store go on untouched, devices whose
// directory is gone are torn down, new ones are picked up.
#pragma once
#include <sys/eventfd.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "common/backend_context.h"
#include "common/xenbus_device.h"
#include "common/xs_client.h"
#include "pv/unique_fd.h"

namespace pv::backd {

class DeviceManager {
 public:
  using Factory = std::function<std::shared_ptr<XenbusDevice>(BackendContext&, DeviceId)>;

  // `state_dir`: pvd's state directory; domain N's pv-hv serves its
  // back-end link at <state_dir>/domains/N.be.sock.
  DeviceManager(XsClient& xs, std::string state_dir);
  ~DeviceManager();

  void register_type(const std::string& type, Factory f);
  // Serves until `stop_fd` becomes readable (true), reconnecting whenever
  // xenstored goes away; false when it is away and pvd's state directory
  // is gone too (nothing will come back: pv-backd ends).
  bool run(int stop_fd);

 private:
  using Key = std::tuple<std::string, uint32_t, uint32_t>;
  enum class Outcome { kStopped, kDisconnected, kReconnected, kGone };
  Outcome serve(int stop_fd);
  Outcome reconnect(int stop_fd);
  void watch(const std::string& path, const std::string& token);
  void rescan();
  void advance(XenbusDevice& d);  // one state-machine step; errors logged
  void change_all();
  void change_waiting();  // only devices not connected (retries)
  void update_frontend_watches(std::set<std::string>& watched);
  void run_posted();
  void post(std::function<void()> fn);
  std::shared_ptr<DomainLink> link(uint32_t domid);
  void drop_dead_links();

  XsClient& xs_;
  std::string state_dir_;
  BackendContext ctx_;
  std::map<std::string, Factory> factories_;
  std::map<Key, std::shared_ptr<XenbusDevice>> devices_;
  std::map<uint32_t, std::shared_ptr<DomainLink>> links_;
  UniqueFd post_fd_;
  std::mutex post_mu_;
  std::deque<std::function<void()>> posted_;
};

}  // namespace pv::backd
