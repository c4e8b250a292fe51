#include <gtest/gtest.h>

#include "xenstore/tree.h"

using namespace pv::xenstore;

TEST(XenstoreTree, SnapshotsAreIsolated) {
  Tree tree(Permissions(), 1);
  tree.put("/a", "1", Permissions(), 2);
  Tree snapshot = tree;
  tree.put("/a", "2", Permissions(), 3);
  tree.put("/b", "x", Permissions(), 4);
  EXPECT_EQ(snapshot.lookup("/a")->value, "1");
  EXPECT_EQ(snapshot.lookup("/b"), nullptr);
  EXPECT_EQ(tree.lookup("/a")->value, "2");
}

TEST(XenstoreTree, GenerationsAndOwnerCounts) {
  Tree tree(Permissions(), 1);
  tree.put("/a", "", Permissions::parse({"n5"}), 2);
  EXPECT_EQ(tree.lookup("/")->generation, 2u) << "a new child changes the parent";
  tree.put("/a/b", "", Permissions::parse({"n5"}), 3);
  tree.put("/a/b", "v", Permissions::parse({"n5"}), 4);
  EXPECT_EQ(tree.lookup("/a")->generation, 3u) << "a child's value does not change the parent";
  EXPECT_EQ(tree.nodes_owned_by(5), 2u);
  tree.put("/a/b", "v", Permissions::parse({"n6"}), 5);
  EXPECT_EQ(tree.nodes_owned_by(5), 1u);
  EXPECT_EQ(tree.nodes_owned_by(6), 1u);
  tree.erase("/a", 6);
  EXPECT_EQ(tree.nodes_owned_by(5), 0u);
  EXPECT_EQ(tree.nodes_owned_by(6), 0u);
  EXPECT_EQ(tree.node_count(), 1u);
  tree.erase("/missing/x", 7);  // no-op
  EXPECT_EQ(tree.node_count(), 1u);
}
