// blkback's pure request checks and the ring's ABI translation.
#include <gtest/gtest.h>

#include <cstring>

#include "blkback/blk_ring.h"
#include "blkback/request_check.h"

namespace {
namespace B = xen::blkif;
using namespace pv::blkback;

Limits disk(uint64_t sectors = 1000, bool ro = false, bool discard = true) {
  Limits l;
  l.disk_sectors = sectors;
  l.readonly = ro;
  l.discard = discard;
  return l;
}

BlkRequest rw(uint8_t op, uint32_t nsegs, uint64_t sector = 0) {
  BlkRequest r;
  r.operation = r.op = op;
  r.nr_segments = nsegs;
  r.sector = sector;
  for (uint32_t i = 0; i < nsegs && i < B::BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) r.seg[i] = {i, 0, 7, 0};
  return r;
}

TEST(RequestCheck, ReadWriteSegmentCounts) {
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_READ, 1), disk()), Fault::kNone);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_WRITE, 11), disk()), Fault::kNone);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_READ, 0), disk()), Fault::kBadNrSegments);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_WRITE, 12), disk()), Fault::kBadNrSegments);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_READ, 255), disk()), Fault::kBadNrSegments);
}

TEST(RequestCheck, UnsupportedOperations) {
  for (uint8_t op : {B::BLKIF_OP_WRITE_BARRIER, B::BLKIF_OP_RESERVED_1, uint8_t(7), uint8_t(200), uint8_t(255)}) {
    auto r = rw(op, 1);
    EXPECT_EQ(check_header(r, disk()), Fault::kUnsupportedOp) << int(op);
  }
  EXPECT_EQ(status_for(Fault::kUnsupportedOp), B::BLKIF_RSP_EOPNOTSUPP);
  EXPECT_EQ(status_for(Fault::kBadRange), B::BLKIF_RSP_ERROR);
  EXPECT_EQ(status_for(Fault::kNone), B::BLKIF_RSP_OKAY);
}

TEST(RequestCheck, ReadOnly) {
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_WRITE, 1), disk(1000, true)), Fault::kReadOnly);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_READ, 1), disk(1000, true)), Fault::kNone);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_FLUSH_DISKCACHE, 0), disk(1000, true)), Fault::kNone);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_FLUSH_DISKCACHE, 2), disk(1000, true)), Fault::kReadOnly);
  BlkRequest ind = rw(B::BLKIF_OP_WRITE, 20);
  ind.indirect = true;
  ind.operation = B::BLKIF_OP_INDIRECT;
  EXPECT_EQ(check_header(ind, disk(1000, true)), Fault::kReadOnly);
}

TEST(RequestCheck, Flush) {
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_FLUSH_DISKCACHE, 0), disk()), Fault::kNone);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_FLUSH_DISKCACHE, 11), disk()), Fault::kNone);
  EXPECT_EQ(check_header(rw(B::BLKIF_OP_FLUSH_DISKCACHE, 12), disk()), Fault::kBadNrSegments);
}

TEST(RequestCheck, Segments) {
  uint64_t n = 0;
  auto r = rw(B::BLKIF_OP_READ, 3, 10);
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kNone);
  EXPECT_EQ(n, 24u);
  r.seg[1] = {1, 3, 5, 0};
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kNone);
  EXPECT_EQ(n, 19u);
  r.seg[1] = {1, 5, 3, 0};  // first > last
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadSegment);
  r.seg[1] = {1, 0, 8, 0};  // beyond the page
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadSegment);
  r.seg[1] = {1, 255, 255, 0};
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadSegment);
  r.seg[1] = {1, 7, 7, 0};  // the last sector of a page
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kNone);
  EXPECT_EQ(n, 17u);
}

TEST(RequestCheck, Range) {
  uint64_t n = 0;
  auto r = rw(B::BLKIF_OP_READ, 1, 992);  // sectors 992..999 of 1000
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kNone);
  r.sector = 993;  // one past
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadRange);
  r.sector = 1000;
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadRange);
  r.sector = ~0ull - 3;  // would wrap around
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadRange);
  r.sector = ~0ull;
  EXPECT_EQ(check_segments(r, r.seg, disk(), &n), Fault::kBadRange);
  EXPECT_EQ(check_segments(rw(B::BLKIF_OP_READ, 1, 0), r.seg, disk(0), &n), Fault::kBadRange);  // empty drive
  EXPECT_TRUE(range_ok(0, 0, 0));
  EXPECT_TRUE(range_ok(1000, 0, 1000));
  EXPECT_FALSE(range_ok(1001, 0, 1000));
  EXPECT_FALSE(range_ok(1, ~0ull, 1000));
}

TEST(RequestCheck, Indirect) {
  BlkRequest r = rw(B::BLKIF_OP_READ, 0);
  r.operation = B::BLKIF_OP_INDIRECT;
  r.indirect = true;
  r.nr_segments = 256;
  EXPECT_EQ(check_header(r, disk()), Fault::kNone);
  EXPECT_EQ(r.indirect_pages(), 1u);
  r.nr_segments = 257;
  EXPECT_EQ(check_header(r, disk()), Fault::kBadNrSegments);
  r.nr_segments = 0;
  EXPECT_EQ(check_header(r, disk()), Fault::kBadNrSegments);
  r.nr_segments = 65535;
  EXPECT_EQ(check_header(r, disk()), Fault::kBadNrSegments);
  Limits big = disk();
  big.max_indirect_segments = 4096;  // at most 8 indirect pages, whatever was offered
  r.nr_segments = 4096;
  EXPECT_EQ(check_header(r, big), Fault::kNone);
  r.nr_segments = 4097;
  big.max_indirect_segments = 5000;
  EXPECT_EQ(check_header(r, big), Fault::kBadNrSegments);
  r.nr_segments = 4;
  for (uint8_t op : {B::BLKIF_OP_FLUSH_DISKCACHE, B::BLKIF_OP_DISCARD, B::BLKIF_OP_INDIRECT, B::BLKIF_OP_WRITE_BARRIER,
                     uint8_t(99)}) {
    r.op = op;
    EXPECT_EQ(check_header(r, disk()), Fault::kBadIndirect) << int(op);
  }
}

TEST(RequestCheck, Discard) {
  BlkRequest r;
  r.operation = r.op = B::BLKIF_OP_DISCARD;
  r.sector = 10;
  r.nr_sectors = 990;
  EXPECT_EQ(check_header(r, disk()), Fault::kNone);
  r.nr_sectors = 991;
  EXPECT_EQ(check_header(r, disk()), Fault::kBadRange);
  r.sector = ~0ull;
  r.nr_sectors = 2;
  EXPECT_EQ(check_header(r, disk()), Fault::kBadRange);
  r.sector = 0;
  r.nr_sectors = 8;
  EXPECT_EQ(check_header(r, disk(1000, false, false)), Fault::kUnsupportedOp);  // not offered
  EXPECT_EQ(check_header(r, disk(1000, true, true)), Fault::kUnsupportedOp);    // read-only
  r.discard_flag = B::BLKIF_DISCARD_SECURE;
  EXPECT_EQ(check_header(r, disk()), Fault::kUnsupportedOp);  // discard-secure=0
  Limits secure = disk();
  secure.discard_secure = true;
  EXPECT_EQ(check_header(r, secure), Fault::kNone);
}

// ---- ABI translation ----
TEST(BlkRing, Native) {
  alignas(4096) static uint8_t page[4096];
  std::memset(page, 0, sizeof page);
  B::FrontRing f(page, sizeof page);
  f.init_shared();
  BlkRing ring(Abi::kNative, page, sizeof page);
  ASSERT_TRUE(ring.valid());
  EXPECT_EQ(ring.size(), 32u);

  auto& r = f.next_request();
  r.operation = B::BLKIF_OP_WRITE;
  r.nr_segments = 2;
  r.handle = 51712;
  r.id = 0x1122334455667788ull;
  r.sector_number = 77;
  r.seg[0] = {5, 1, 2, 0};
  r.seg[1] = {6, 0, 7, 0};
  f.req_prod_pvt++;
  B::blkif_request_indirect ind{};
  ind.operation = B::BLKIF_OP_INDIRECT;
  ind.indirect_op = B::BLKIF_OP_READ;
  ind.nr_segments = 300;
  ind.id = 9;
  ind.sector_number = 1234;
  ind.handle = 3;
  ind.indirect_grefs[0] = 40;
  ind.indirect_grefs[1] = 41;
  std::memcpy(&f.next_request(), &ind, sizeof ind);
  f.req_prod_pvt++;
  B::blkif_request_discard d{};
  d.operation = B::BLKIF_OP_DISCARD;
  d.flag = B::BLKIF_DISCARD_SECURE;
  d.id = 10;
  d.sector_number = 8;
  d.nr_sectors = 1ull << 40;
  std::memcpy(&f.next_request(), &d, sizeof d);
  f.req_prod_pvt++;
  f.push_requests();

  ASSERT_EQ(ring.unconsumed(), 3u);
  BlkRequest out;
  ring.take(out);
  EXPECT_EQ(out.op, B::BLKIF_OP_WRITE);
  EXPECT_FALSE(out.indirect);
  EXPECT_EQ(out.nr_segments, 2u);
  EXPECT_EQ(out.id, 0x1122334455667788ull);
  EXPECT_EQ(out.sector, 77u);
  EXPECT_EQ(out.handle, 51712);
  EXPECT_EQ(out.seg[0].gref, 5u);
  EXPECT_EQ(out.seg[0].first_sect, 1);
  EXPECT_EQ(out.seg[1].last_sect, 7);
  ring.take(out);
  EXPECT_TRUE(out.indirect);
  EXPECT_EQ(out.operation, B::BLKIF_OP_INDIRECT);
  EXPECT_EQ(out.op, B::BLKIF_OP_READ);
  EXPECT_EQ(out.nr_segments, 300u);
  EXPECT_EQ(out.sector, 1234u);
  EXPECT_EQ(out.handle, 3);
  EXPECT_EQ(out.indirect_grefs[1], 41u);
  EXPECT_EQ(out.indirect_pages(), 1u);
  ring.take(out);
  EXPECT_EQ(out.op, B::BLKIF_OP_DISCARD);
  EXPECT_EQ(out.discard_flag, B::BLKIF_DISCARD_SECURE);
  EXPECT_EQ(out.sector, 8u);
  EXPECT_EQ(out.nr_sectors, 1ull << 40);
  EXPECT_EQ(ring.unconsumed(), 0u);

  ring.respond(0x1122334455667788ull, B::BLKIF_OP_WRITE, B::BLKIF_RSP_ERROR);
  EXPECT_TRUE(ring.has_unpushed());
  EXPECT_TRUE(ring.push());  // rsp_event starts at 1
  EXPECT_FALSE(ring.has_unpushed());
  ASSERT_TRUE(f.has_unconsumed_responses());
  EXPECT_EQ(f.response(0).id, 0x1122334455667788ull);
  EXPECT_EQ(f.response(0).status, B::BLKIF_RSP_ERROR);
  EXPECT_EQ(f.response(0).operation, B::BLKIF_OP_WRITE);
}

TEST(BlkRing, X86_32) {
  alignas(4096) static uint8_t page[4096];
  std::memset(page, 0, sizeof page);
  B::x86_32::FrontRing f(page, sizeof page);
  f.init_shared();
  BlkRing ring(Abi::kX86_32, page, sizeof page);
  EXPECT_EQ(ring.size(), 32u);
  B::x86_32::blkif_request r{};
  r.operation = B::BLKIF_OP_READ;
  r.nr_segments = 11;
  r.id = 0xabcdef0123ull;
  r.sector_number = 0x100000001ull;
  for (unsigned i = 0; i < 11; i++) r.seg[i] = {100 + i, 0, 7, 0};
  std::memcpy(&f.next_request(), &r, sizeof r);
  f.req_prod_pvt++;
  B::x86_32::blkif_request_indirect ind{};
  ind.operation = B::BLKIF_OP_INDIRECT;
  ind.indirect_op = B::BLKIF_OP_WRITE;
  ind.nr_segments = 17;
  ind.id = 5;
  ind.sector_number = 3;
  ind.indirect_grefs[0] = 77;
  std::memcpy(&f.next_request(), &ind, sizeof ind);
  f.req_prod_pvt++;
  B::x86_32::blkif_request_discard d{};
  d.operation = B::BLKIF_OP_DISCARD;
  d.id = 6;
  d.sector_number = 64;
  d.nr_sectors = 128;
  std::memcpy(&f.next_request(), &d, sizeof d);
  f.req_prod_pvt++;
  f.push_requests();

  BlkRequest out;
  ring.take(out);
  EXPECT_EQ(out.op, B::BLKIF_OP_READ);
  EXPECT_EQ(out.nr_segments, 11u);
  EXPECT_EQ(out.id, 0xabcdef0123ull);
  EXPECT_EQ(out.sector, 0x100000001ull);
  EXPECT_EQ(out.seg[10].gref, 110u);
  ring.take(out);
  EXPECT_TRUE(out.indirect);
  EXPECT_EQ(out.op, B::BLKIF_OP_WRITE);
  EXPECT_EQ(out.nr_segments, 17u);
  EXPECT_EQ(out.id, 5u);
  EXPECT_EQ(out.sector, 3u);
  EXPECT_EQ(out.indirect_grefs[0], 77u);
  ring.take(out);
  EXPECT_EQ(out.op, B::BLKIF_OP_DISCARD);
  EXPECT_EQ(out.sector, 64u);
  EXPECT_EQ(out.nr_sectors, 128u);

  ring.respond(0xabcdef0123ull, B::BLKIF_OP_READ, B::BLKIF_RSP_OKAY);
  ring.respond(5, B::BLKIF_OP_INDIRECT, B::BLKIF_RSP_EOPNOTSUPP);
  ring.push();
  B::x86_32::blkif_response a, b;
  std::memcpy(&a, &f.response(0), sizeof a);
  std::memcpy(&b, &f.response(1), sizeof b);
  EXPECT_EQ(a.id, 0xabcdef0123ull);
  EXPECT_EQ(a.status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(b.id, 5u);
  EXPECT_EQ(b.operation, B::BLKIF_OP_INDIRECT);
  EXPECT_EQ(b.status, B::BLKIF_RSP_EOPNOTSUPP);
}

TEST(BlkRing, Abi) {
  Abi a;
  EXPECT_TRUE(parse_abi("", a));
  EXPECT_EQ(a, Abi::kNative);
  EXPECT_TRUE(parse_abi("x86_64-abi", a));
  EXPECT_EQ(a, Abi::kNative);
  EXPECT_TRUE(parse_abi("x86_32-abi", a));
  EXPECT_EQ(a, Abi::kX86_32);
  EXPECT_FALSE(parse_abi("arm-abi", a));
  EXPECT_FALSE(parse_abi("x86_64-abi ", a));
}

}  // namespace
