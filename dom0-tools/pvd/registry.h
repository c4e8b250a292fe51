// The domain registry in pvd's state directory: one DomainRecord per
// domain in <state-dir>/domains/<domid>.rec, written atomically, so a
// restarted pvd finds its domains again.
#pragma once
#include <string>
#include <vector>

#include "registry.pb.h"

namespace pv::pvd {

class Registry {
 public:
  explicit Registry(std::string state_dir);  // creates the directories

  void save(const registry::DomainRecord& rec) const;
  // The record and the domain's files. Its console log (when not empty)
  // is kept as console-logs/<name>.<domid>.log, the newest kKeptConsoleLogs
  // of them, as xenconsoled keeps its logs: what a crashed or failed domain
  // printed outlives it.
  void remove(uint32_t domid, const std::string& name) const;
  std::string kept_console_log(uint32_t domid, const std::string& name) const;
  static constexpr size_t kKeptConsoleLogs = 20;
  std::vector<registry::DomainRecord> load_all() const;
  const std::string& state_dir() const { return state_dir_; }

  std::string console_log(uint32_t domid) const;
  std::string status_file(uint32_t domid) const;
  std::string xenstore_link(uint32_t domid) const;  // pv-hv's --xenstore-socket
  std::string console_socket(uint32_t domid) const;  // pv-hv's --console-socket
  std::string backend_link(uint32_t domid) const;    // pv-hv's --backend-socket (pv-backd finds it by name)
  std::string control_socket(uint32_t domid) const;  // pv-hv's --control-socket
  // The last domain ID pvd gave out (<state-dir>/last-domid, written
  // atomically), 0 when none was recorded.
  uint32_t last_domid() const;
  void save_last_domid(uint32_t domid) const;
  // "<status> <reason>" written by pv-hv as it exits, or "" if absent.
  std::string read_status(uint32_t domid) const;

 private:
  std::string record_path(uint32_t domid) const;
  void keep_console_log(uint32_t domid, const std::string& name) const;
  std::string state_dir_, dir_;
};

}  // namespace pv::pvd
