#include "network/nft_rules.h"

#include <nftables/libnftables.h>

#include <memory>
#include <sstream>

#include "network/network_error.h"

namespace pv::net {
namespace {

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

// Runs one nft script as one transaction; throws with nftables' message.
void run(const std::string& script, const std::string& what) {
  std::unique_ptr<nft_ctx, CtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) throw NetworkError(NetworkError::Kind::kSystem, what + ": cannot create an nftables context");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  if (nft_run_cmd_from_buffer(ctx.get(), script.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx.get());
    while (!err.empty() && err.back() == '\n') err.pop_back();
    if (err.empty()) err = "nftables refused the rules (is the nf_tables module available?)";
    throw NetworkError(NetworkError::Kind::kSystem, what + ": " + err);
  }
}

// "add, then delete" removes the table whether or not it was there.
std::string delete_table(const std::string& table) {
  return "add table inet " + table + "\ndelete table inet " + table + "\n";
}

}  // namespace

std::string nft_table_name(const std::string& network) { return "pvnet-" + network; }

std::string nft_ruleset(const NetworkSpec& spec) {
  if (spec.mode == Mode::kBridge) return "";
  const std::string br = "\"" + spec.bridge + "\"", net = spec.subnet.to_string();
  std::ostringstream t;
  // inet: the forward chain drops IPv6 too (pvd gives guests IPv4 only),
  // so isolation holds even on a host that forwards IPv6.
  t << "table inet " << nft_table_name(spec.name) << " {\n"
    << "  chain forward {\n"
    << "    type filter hook forward priority filter; policy accept;\n"
    // Guest to guest through the bridge (seen here only with br_netfilter).
    << "    iifname " << br << " oifname " << br << " accept\n";
  if (spec.mode == Mode::kHostOnly) {
    t << "    iifname " << br << " drop\n"
      << "    oifname " << br << " drop\n"
      << "  }\n";
  } else {
    t << "    iifname " << br << " ip saddr " << net << " accept\n"
      << "    iifname " << br << " drop\n"
      << "    oifname " << br << " ip daddr " << net << " ct state established,related accept\n";
    for (const auto& f : spec.forwards)
      t << "    oifname " << br << " ip daddr " << ipv4_to_string(f.guest) << " " << f.proto << " dport "
        << f.guest_port << " ct status dnat accept\n";
    t << "    oifname " << br << " drop\n"
      << "  }\n"
      << "  chain postrouting {\n"
      << "    type nat hook postrouting priority srcnat; policy accept;\n"
      << "    ip saddr " << net << " ip daddr != " << net << " oifname != " << br << " masquerade\n"
      << "  }\n";
    if (!spec.forwards.empty()) {
      t << "  chain prerouting {\n"
        << "    type nat hook prerouting priority dstnat; policy accept;\n";
      for (const auto& f : spec.forwards)
        t << "    iifname != " << br << " fib daddr type local " << f.proto << " dport " << f.host_port
          << " dnat ip to " << ipv4_to_string(f.guest) << ":" << f.guest_port << "\n";
      t << "  }\n";
    }
  }
  t << "}\n";
  return t.str();
}

void nft_apply(const NetworkSpec& spec) {
  if (spec.mode == Mode::kBridge) return;
  run(delete_table(nft_table_name(spec.name)) + nft_ruleset(spec),
      "network '" + spec.name + "': cannot load nftables table " + nft_table_name(spec.name));
}

void nft_delete(const std::string& network) {
  run(delete_table(nft_table_name(network)),
      "network '" + network + "': cannot delete nftables table " + nft_table_name(network));
}

}  // namespace pv::net
