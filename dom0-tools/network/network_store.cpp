#include "network/network_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "pv/log.h"
#include "network/network_error.h"
#include "pv/files.h"

namespace pv::net {
namespace fs = std::filesystem;

NetworkStore::NetworkStore(const std::string& state_dir) : dir_(state_dir + "/networks") {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw NetworkError(NetworkError::Kind::kSystem, "cannot create " + dir_ + ": " + ec.message());
  // dnsmasq, once it has dropped root, reads its hosts file from here.
  ::chmod(dir_.c_str(), 0755);
}

void NetworkStore::save(const network::NetworkRecord& rec) const {
  write_file_atomically(dir_ + "/" + rec.name() + ".rec", rec.SerializeAsString(), 0600);
}

void NetworkStore::remove(const std::string& name) const { ::unlink((dir_ + "/" + name + ".rec").c_str()); }

std::vector<network::NetworkRecord> NetworkStore::load_all() const {
  return load_records<network::NetworkRecord>(dir_, "network record", [](const auto& rec, const std::string& file) {
    return rec.name() + ".rec" == file;  // the name is the key
  });
}

admin::NetworkMode to_proto(Mode mode) {
  switch (mode) {
    case Mode::kHostOnly: return admin::HOST_ONLY;
    case Mode::kNat: return admin::NAT;
    case Mode::kBridge: return admin::BRIDGE;
  }
  return admin::NETWORK_MODE_UNSPECIFIED;
}

std::optional<Mode> from_proto(admin::NetworkMode mode) {
  switch (mode) {
    case admin::HOST_ONLY: return Mode::kHostOnly;
    case admin::NAT: return Mode::kNat;
    case admin::BRIDGE: return Mode::kBridge;
    default: return std::nullopt;
  }
}

}  // namespace pv::net
