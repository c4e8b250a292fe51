// Network records in pvd's state directory: <state-dir>/networks/<name>.rec
// (a pv.network.NetworkRecord, written atomically), read back by a
// restarted pvd. The directory also holds each network's dnsmasq files.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "admin.pb.h"
#include "network.pb.h"
#include "network/network_spec.h"

namespace pv::net {

class NetworkStore {
 public:
  explicit NetworkStore(const std::string& state_dir);  // creates <state-dir>/networks

  const std::string& dir() const { return dir_; }
  void save(const network::NetworkRecord& rec) const;
  void remove(const std::string& name) const;
  std::vector<network::NetworkRecord> load_all() const;

 private:
  std::string dir_;
};

admin::NetworkMode to_proto(Mode mode);
std::optional<Mode> from_proto(admin::NetworkMode mode);

}  // namespace pv::net
