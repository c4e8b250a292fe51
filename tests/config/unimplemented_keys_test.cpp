// Keys the parser accepts (with xl's meaning, checked) but the platform
// does not act on yet are warned about, naming the line and the key, and
// never refused or silently dropped.
#include <gtest/gtest.h>

#include <string>

#include "config/domain_config.h"

using namespace pv::config;

namespace {

const std::string kBase = "name = 'w'\nmemory = 256\nvcpus = 2\nkernel = '/k'\n";  // lines 1-4

ParseResult parse(const std::string& more) { return parse_domain_config(kBase + more, "w.cfg"); }

// The one warning `r` has, as "file:line: key: message".
std::string only_warning(const ParseResult& r) {
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.warnings.size(), 1u);
  return r.warnings.empty() ? "" : r.warnings[0].to_string();
}

}  // namespace

// maxmem is implemented (ballooning up to it): no warning.
TEST(UnimplementedKeys, MaxmemAboveMemoryIsImplemented) {
  const ParseResult r = parse("maxmem = 1024\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0].to_string();
  EXPECT_EQ(r.config->maxmem_mib, 1024u);
}

// maxvcpus is implemented (vCPU hot-plug up to it): no warning.
TEST(UnimplementedKeys, MaxvcpusAboveVcpusIsImplemented) {
  const ParseResult r = parse("maxvcpus = 4\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0].to_string();
  EXPECT_EQ(r.config->maxvcpus, 4u);
  EXPECT_EQ(r.config->vcpus, 2u);
}

TEST(UnimplementedKeys, MaximaThatAskForNothingMoreAreQuiet) {
  const ParseResult r = parse("maxmem = 256\nmaxvcpus = 2\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0].to_string();
}

TEST(UnimplementedKeys, VifParametersThatDoNothingAreNamed) {
  const ParseResult r = parse("vif = [ 'bridge=br0, model=e1000, rate=10Mb/s@20ms',\n"
                              "        'vifname=web0, gatewaydev=eth0, vlan=10, type=ioemu' ]\n");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 6u);
  const char* expected[][2] = {{"vif[0]", "model=e1000 "}, {"vif[0]", "rate=10Mb/s@20ms "},
                               {"vif[1]", "vifname=web0 "}, {"vif[1]", "gatewaydev=eth0 "},
                               {"vif[1]", "vlan=10 "},      {"vif[1]", "type=ioemu "}};
  for (size_t i = 0; i < r.warnings.size(); i++) {
    EXPECT_EQ(r.warnings[i].key, expected[i][0]);
    EXPECT_EQ(r.warnings[i].line, i < 2 ? 5 : 6);
    EXPECT_EQ(r.warnings[i].message.rfind(std::string(expected[i][1]) + "is not implemented yet", 0), 0u)
        << r.warnings[i].message;
  }
  EXPECT_EQ(r.config->vifs[0].model, "e1000");  // kept, for when it is implemented
}

TEST(UnimplementedKeys, UsedVifParametersAreQuiet) {
  const ParseResult r = parse("vif = [ 'mac=00:16:3e:00:00:01, bridge=br0, ip=10.0.0.2, mtu=1400, type=vif' ]\n");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.warnings.empty()) << r.warnings[0].to_string();
}

TEST(UnimplementedKeys, DiskBackendTypesOtherThanPhyAreNamed) {
  const std::string w = only_warning(parse("disk = [ 'vdev=xvda, backendtype=qdisk, target=/i.img' ]\n"));
  EXPECT_EQ(w.rfind("w.cfg:5: disk[0]: backendtype=qdisk is not implemented yet", 0), 0u) << w;
  const ParseResult phy = parse("disk = [ 'vdev=xvda, backendtype=phy, target=/i.img' ]\n");
  ASSERT_TRUE(phy.ok());
  EXPECT_TRUE(phy.warnings.empty());
}
