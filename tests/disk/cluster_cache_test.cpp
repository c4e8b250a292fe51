// The qcow2 metadata cache: bounded, least recently used out first, dirty
// clusters never evicted before they are written.
#include "disk/qcow2/cluster_cache.h"

#include <gtest/gtest.h>

namespace {

using pv::disk::qcow2::ClusterCache;

TEST(ClusterCache, KeepsTheMostRecentWithinItsBound) {
  ClusterCache c(4);
  for (uint64_t i = 0; i < 10; i++) c.insert(i * 4096, std::vector<uint8_t>(8, uint8_t(i)));
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.find(0), nullptr);
  ASSERT_NE(c.find(9 * 4096), nullptr);
  EXPECT_EQ(c.find(9 * 4096)->bytes[0], 9);
  // A lookup makes an entry recent: 6 survives the next insert, 7 goes.
  ASSERT_NE(c.find(6 * 4096), nullptr);
  c.insert(100 * 4096, {});
  EXPECT_NE(c.find(6 * 4096), nullptr);
  EXPECT_EQ(c.find(7 * 4096), nullptr);
}

TEST(ClusterCache, DirtyEntriesStayUntilClean) {
  ClusterCache c(2);
  auto a = c.insert(0, {1}, true);
  auto b = c.insert(4096, {2}, true);
  auto d = c.insert(8192, {3}, true);
  for (uint64_t i = 0; i < 5; i++) c.insert((10 + i) * 4096, {});
  EXPECT_EQ(c.find(0), a);
  EXPECT_EQ(c.find(4096), b);
  EXPECT_EQ(c.find(8192), d);
  EXPECT_EQ(c.dirty().size(), 3u);
  EXPECT_EQ(c.size(), 3u);  // every clean one went: over the bound, all dirty
  for (auto& e : c.dirty()) e->dirty = false;
  c.evict();
  EXPECT_EQ(c.size(), 2u);
  EXPECT_TRUE(c.dirty().empty());
}

}  // namespace
