// The TLS 1.3 contexts of migration between pvds (docs/save-format.md,
// "Migration"): each side presents its certificate and accepts only a peer
// whose certificate the configured CA signed (mutual authentication).
// OpenSSL through Boost.Asio's ssl: a well-kept TLS implementation, not
// hand-written crypto.
#pragma once
#include "asio.h"
#include <boost/asio/ssl.hpp>
#include <string>

namespace pv::pvd {

// pvd's --migrate-cert, --migrate-key and --migrate-ca (PEM files).
struct MigrateTls {
  std::string cert, key, ca;
  bool configured() const { return !cert.empty() && !key.empty() && !ca.empty(); }
};

// A context for the target (`server`) or the source end. Throws UserError
// naming the file that cannot be used (missing, not PEM, key not the
// certificate's).
boost::asio::ssl::context make_tls_context(const MigrateTls& tls, bool server);

// What a TLS or socket error means for a user ("certificate verify failed"
// rather than a number).
std::string tls_error_text(const boost::system::error_code& ec);

}  // namespace pv::pvd
