// The target end of pvctl migrate (docs/save-format.md, "Migration"):
// pvd --migrate-listen ADDR:PORT accepts TLS 1.3 connections from peers
// whose certificate the --migrate-ca signed, takes one domain's offer,
// answers whether it can take it (no domain of that name here), receives
// the save stream into <state>/migrate-in/NAME.pvsave.partial and restores
// it as pvctl restore does (the disks at the same paths: shared storage),
// then answers OK or why not. A peer is as hostile as a guest: every size
// is bounded, every read has a deadline, and a failed transfer leaves no
// file and no domain behind.
#pragma once
#include "asio.h"
#include <boost/asio/ssl.hpp>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "admin.pb.h"
#include "tls_context.h"

namespace pv::pvd {

class MigrateListener {
 public:
  // Whether a domain of that name exists here; restores the stream at
  // `path` as `name` and answers (DomainManager's restore).
  using Exists = std::function<bool(const std::string&)>;
  using Restore = std::function<void(const std::string& path, const std::string& name,
                                     std::function<void(const admin::Reply&)> done)>;

  // Listens on `address` ("ADDR:PORT", "[V6]:PORT"). Throws UserError when
  // it cannot (a bad address, the port taken, unusable TLS files).
  MigrateListener(boost::asio::io_context& io, const std::string& address, const MigrateTls& tls,
                  std::string incoming_dir, Exists exists, Restore restore);
  ~MigrateListener();
  MigrateListener(const MigrateListener&) = delete;
  MigrateListener& operator=(const MigrateListener&) = delete;

  std::string endpoint() const;

  struct Shared;  // what sessions share with the listener (migrate_receive.cpp)

 private:
  void accept();
  std::shared_ptr<Shared> shared_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace pv::pvd
