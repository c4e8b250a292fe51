#include <gtest/gtest.h>

#include "xenstore/errors.h"
#include "xenstore/permissions.h"

using namespace pv::xenstore;

TEST(XenstorePermissions, ParseAndFormat) {
  auto p = Permissions::parse({"n5", "r0", "w7", "b9"});
  EXPECT_EQ(p.owner(), 5);
  EXPECT_EQ(p.to_string(), "n5 r0 w7 b9");
  EXPECT_EQ(p.to_wire(), std::string("n5\0r0\0w7\0b9\0", 12));
  EXPECT_THROW(Permissions::parse({"x5"}), RequestError);
  EXPECT_THROW(Permissions::parse({"r"}), RequestError);
  EXPECT_THROW(Permissions::parse({"r-1"}), RequestError);
  EXPECT_THROW(Permissions::parse({}), RequestError);
}

TEST(XenstorePermissions, XenRules) {
  auto p = Permissions::parse({"r5", "b6", "n7"});
  EXPECT_EQ(access_for(Caller{0, {}}, p), kAccessAll) << "dom0 has all access";
  EXPECT_EQ(access_for(Caller{5, {}}, p), kAccessAll) << "the owner has all access";
  EXPECT_EQ(access_for(Caller{6, {}}, p), kAccessRead | kAccessWrite);
  EXPECT_EQ(access_for(Caller{7, {}}, p), kAccessNone);
  EXPECT_EQ(access_for(Caller{8, {}}, p), kAccessRead) << "the owner entry is the default";
  EXPECT_EQ(access_for(Caller{9, 5}, p), kAccessAll) << "targeting the owner";
  EXPECT_EQ(access_for(Caller{9, 7}, p), kAccessNone) << "inherits the target's entries";
}
