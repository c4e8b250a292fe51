#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "pv/error.h"

namespace pv::pvd {
namespace ssl = boost::asio::ssl;

namespace {
std::string openssl_reason() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (!e) return "";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(": ") + buf;
}
}  // namespace

ssl::context make_tls_context(const MigrateTls& tls, bool server) {
  if (!tls.configured()) throw UserError("migration needs --migrate-cert, --migrate-key and --migrate-ca");
  ssl::context ctx(server ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX* c = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) != 1) throw UserError("this OpenSSL has no TLS 1.3");
  ctx.set_options(ssl::context::no_compression);
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(c, tls.cert.c_str()) != 1)
    throw UserError("--migrate-cert " + tls.cert + ": not a PEM certificate" + openssl_reason());
  if (SSL_CTX_use_PrivateKey_file(c, tls.key.c_str(), SSL_FILETYPE_PEM) != 1)
    throw UserError("--migrate-key " + tls.key + ": not a PEM private key" + openssl_reason());
  if (SSL_CTX_check_private_key(c) != 1)
    throw UserError("--migrate-key " + tls.key + " is not the key of --migrate-cert " + tls.cert + openssl_reason());
  if (SSL_CTX_load_verify_locations(c, tls.ca.c_str(), nullptr) != 1)
    throw UserError("--migrate-ca " + tls.ca + ": not a PEM CA certificate" + openssl_reason());
  // Both ends verify: a peer without a certificate from that CA is refused.
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(c, 4);
  return ctx;
}

std::string tls_error_text(const boost::system::error_code& ec) {
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(ec.value()));
    const std::string r = reason ? reason : buf;
    std::string hint;
    if (r.find("alert unknown ca") != std::string::npos || r.find("alert bad certificate") != std::string::npos ||
        r.find("alert certificate required") != std::string::npos)
      hint = " (the peer does not trust this pvd's --migrate-cert: is it signed by the peer's --migrate-ca?)";
    else if (r.find("certificate verify failed") != std::string::npos)
      hint = " (the peer's certificate is not signed by this pvd's --migrate-ca, or does not name the host)";
    return "TLS: " + r + hint;
  }
  if (ec == boost::asio::ssl::error::stream_truncated) return "the peer closed the TLS connection";
  return ec.message();
}

}  // namespace pv::pvd
