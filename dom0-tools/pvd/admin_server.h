// pvd's admin socket: a Unix stream socket (mode 0600) served with
// Boost.Asio to many clients at once. Only root or pvd's own user may
// connect (SO_PEERCRED). Each client sends length-delimited protobuf
// Requests and gets one Reply per request, in order. A malformed frame
// (bad length, oversized, unparsable message) is answered with an error
// and the connection closed; pvd carries on.
#pragma once
#include "asio.h"
#include <sys/types.h>

#include <string>
#include <utility>

#include "domain_manager.h"
#include "network/network_manager.h"

namespace pv::pvd {

class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io, const std::string& socket_path, DomainManager& domains,
              net::NetworkManager& networks);
  ~AdminServer();

 private:
  void accept();

  std::string path_;
  std::pair<dev_t, ino_t> bound_{};  // the socket file bind() made
  boost::asio::local::stream_protocol::acceptor acceptor_;
  DomainManager& domains_;
  net::NetworkManager& networks_;
};

}  // namespace pv::pvd
