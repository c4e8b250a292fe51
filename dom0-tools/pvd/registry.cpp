#include "registry.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>

namespace pv::pvd {
namespace fs = std::filesystem;

Registry::Registry(std::string state_dir) : dir_(std::move(state_dir) + "/domains") {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("cannot create " + dir_ + ": " + ec.message());
  fs::permissions(dir_, fs::perms::owner_all, ec);
}

std::string Registry::record_path(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".rec"; }
std::string Registry::console_log(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".console.log"; }
std::string Registry::status_file(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".status"; }
std::string Registry::xenstore_link(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".xs.sock"; }
std::string Registry::console_socket(uint32_t domid) const {
  return dir_ + "/" + std::to_string(domid) + ".console.sock";
}

std::string Registry::backend_link(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".be.sock"; }

void Registry::save(const registry::DomainRecord& rec) const {
  const std::string path = record_path(rec.domid()), tmp = path + ".tmp";
  const std::string bytes = rec.SerializeAsString();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp + ": " + std::strerror(errno));
  const bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
}

void Registry::remove(uint32_t domid) const {
  for (const auto& p :
       {record_path(domid), status_file(domid), console_log(domid), xenstore_link(domid), console_socket(domid),
        backend_link(domid)})
    ::unlink(p.c_str());
}

std::vector<registry::DomainRecord> Registry::load_all() const {
  std::vector<registry::DomainRecord> out;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.path().extension() != ".rec") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    registry::DomainRecord rec;
    if (!rec.ParseFromIstream(&f)) {
      std::cerr << "pvd: ignoring unreadable domain record " << entry.path() << "\n";
      continue;
    }
    out.push_back(std::move(rec));
  }
  return out;
}

std::string Registry::read_status(uint32_t domid) const {
  std::ifstream f(status_file(domid));
  std::string line;
  std::getline(f, line);
  return line;
}

}  // namespace pv::pvd
