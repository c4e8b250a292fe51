// ByteRing: the bounded byte FIFO behind the console history and backlogs.
#include "console/byte_ring.h"

#include <gtest/gtest.h>

#include <string>

namespace pv {
namespace {

TEST(ByteRing, HoldsWhatFitsInOrder) {
  ByteRing r(8);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(r.front(), "");
  EXPECT_EQ(r.append("abc"), 0u);
  EXPECT_EQ(r.append("de"), 0u);
  EXPECT_EQ(r.size(), 5u);
  EXPECT_EQ(r.contents(), "abcde");
  EXPECT_EQ(r.append("fgh"), 0u);  // exactly full
  EXPECT_EQ(r.contents(), "abcdefgh");
}

TEST(ByteRing, DropsTheOldestWhenFull) {
  ByteRing r(8);
  r.append("abcdef");
  EXPECT_EQ(r.append("ghij"), 2u);
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(r.contents(), "cdefghij");
  // The newest bytes wrapped around the storage: front() is the older run.
  EXPECT_EQ(r.front(), "cdefgh");
  EXPECT_EQ(r.append("k"), 1u);
  EXPECT_EQ(r.contents(), "defghijk");
}

TEST(ByteRing, AnAppendLongerThanTheRingKeepsItsTail) {
  ByteRing r(4);
  r.append("xy");
  EXPECT_EQ(r.append("0123456789"), 8u);  // the 2 held and 6 of the new
  EXPECT_EQ(r.contents(), "6789");
  EXPECT_EQ(r.front(), "6789");
}

TEST(ByteRing, ConsumeTakesFromTheFrontAcrossTheWrap) {
  ByteRing r(6);
  r.append("abcd");
  r.consume(3);
  EXPECT_EQ(r.contents(), "d");
  r.append("efghi");  // wraps: "d" at index 3, "ef" after it, "ghi" at 0
  EXPECT_EQ(r.contents(), "defghi");
  EXPECT_EQ(r.front(), "def");
  r.consume(2);
  EXPECT_EQ(r.front(), "f");
  r.consume(1);
  EXPECT_EQ(r.front(), "ghi");
  r.consume(100);  // more than it holds
  EXPECT_TRUE(r.empty());
  r.append("z");
  EXPECT_EQ(r.contents(), "z");
}

TEST(ByteRing, AppendsAnotherRingOldestFirst) {
  ByteRing a(5), b(16);
  a.append("12345");
  a.append("67");  // a: "34567", wrapped
  b.append("<");
  EXPECT_EQ(b.append(a), 0u);
  EXPECT_EQ(b.contents(), "<34567");
  ByteRing small(3);
  EXPECT_EQ(small.append(a), 2u);
  EXPECT_EQ(small.contents(), "567");
}

}  // namespace
}  // namespace pv
