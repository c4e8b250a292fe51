#include <gtest/gtest.h>

#include "xenstore/errors.h"
#include "xenstore/path.h"

using namespace pv::xenstore;

TEST(XenstorePath, RelativePathsAreUnderTheDomainHome) {
  EXPECT_EQ(canonical_path("device/vif/0", 5), "/local/domain/5/device/vif/0");
  EXPECT_EQ(canonical_path("/vm", 5), "/vm");
  EXPECT_EQ(domain_path(12), "/local/domain/12");
}

TEST(XenstorePath, SyntaxRulesFromTheSpec) {
  EXPECT_TRUE(is_valid_absolute("/"));
  EXPECT_TRUE(is_valid_absolute("/a-b/c_d/@e/09"));
  EXPECT_FALSE(is_valid_absolute(""));
  EXPECT_FALSE(is_valid_absolute("/a//b"));
  EXPECT_FALSE(is_valid_absolute("/a/"));
  EXPECT_FALSE(is_valid_absolute("/a b"));
  EXPECT_FALSE(is_valid_absolute("/a.b"));
  EXPECT_THROW(canonical_path("", 0), RequestError);
  EXPECT_THROW(canonical_path("@introduceDomain", 0), RequestError);
  EXPECT_EQ(canonical_watch_path("@introduceDomain", 3), "@introduceDomain");
}

TEST(XenstorePath, LengthLimits) {
  // Xen's is_valid_nodename: outside a domain home an absolute path gets
  // XENSTORE_REL_PATH_MAX bytes; below /local/domain/<id>/ the part after
  // the home does (the whole path never beyond XENSTORE_ABS_PATH_MAX).
  std::string abs = "/" + std::string(kRelPathMax - 1, 'a');
  EXPECT_TRUE(is_valid_absolute(abs));
  EXPECT_FALSE(is_valid_absolute(abs + "b"));
  EXPECT_FALSE(is_valid_absolute("/" + std::string(kAbsPathMax, 'a')));
  std::string rel(kRelPathMax, 'r');
  EXPECT_NO_THROW(canonical_path(rel, 3));
  EXPECT_THROW(canonical_path(rel + "x", 3), RequestError);
  // Below a domain home, the part after it is bounded by the relative limit.
  EXPECT_FALSE(is_valid_absolute("/local/domain/3/" + rel + "x"));
}

TEST(XenstorePath, ChildRelation) {
  EXPECT_TRUE(is_child("/a/b", "/a"));
  EXPECT_TRUE(is_child("/a", "/a"));
  EXPECT_TRUE(is_child("/a", "/"));
  EXPECT_FALSE(is_child("/ab", "/a"));
  EXPECT_FALSE(is_child("@releaseDomain", "/"));
  EXPECT_TRUE(is_child("@releaseDomain", "@releaseDomain"));
  EXPECT_EQ(parent_of("/a/b"), "/a");
  EXPECT_EQ(parent_of("/a"), "/");
  EXPECT_EQ(basename_of("/a/b"), "b");
}

TEST(XenstorePath, DomainIds) {
  EXPECT_EQ(parse_domid("0"), 0);
  EXPECT_EQ(parse_domid("65535"), 65535);
  EXPECT_THROW(parse_domid("65536"), RequestError);
  EXPECT_THROW(parse_domid("-1"), RequestError);
  EXPECT_THROW(parse_domid("1x"), RequestError);
  EXPECT_THROW(parse_domid(""), RequestError);
}
