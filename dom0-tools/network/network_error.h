// The one exception type of pvnet. Its message is for people: it names the
// network and, for kernel failures, carries the kernel's error text. The
// kind lets pvd choose the admin API's error code.
#pragma once
#include <stdexcept>
#include <string>

namespace pv::net {

class NetworkError : public std::runtime_error {
 public:
  enum class Kind {
    kBadSpec,   // the request is wrong: name, mode, subnet, forward, bridge
    kExists,    // a network of that name (or its bridge, subnet, port) exists
    kNotFound,  // no network of that name
    kInUse,     // destroy of a network whose bridge still has ports
    kSystem,    // the kernel, nftables, dnsmasq or the state directory failed
  };
  NetworkError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

}  // namespace pv::net
