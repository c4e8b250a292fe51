// BlkQueue against a fake guest (fake_guest.h) and a temporary image:
// correct bytes both ways, flush, discard, indirect, both ABIs, persistent
// grants, and every hostile request answered with an error while the
// image and guest memory outside the granted pages stay untouched.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <cstring>

#include "fake_guest.h"
#include "pv/error.h"

namespace blktest {
namespace {

class BlkQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = std::make_unique<TempDisk>();
    std::vector<uint8_t> img(kDiskBytes);
    fill_pattern(img.data(), img.size(), 0, 1);
    disk_->write(0, img.data(), img.size());
  }
  std::shared_ptr<HostFile> store(bool ro = false) { return std::make_shared<HostFile>(disk_->path(), ro); }
  Limits limits(bool ro = false, bool discard = true) {
    Limits l;
    l.disk_sectors = kDiskSectors;
    l.readonly = ro;
    l.discard = discard && !ro;
    return l;
  }
  void start(bool ro = false, unsigned order = 0, Abi abi = Abi::kNative, bool persistent = false) {
    g.start(store(ro), limits(ro), order, abi, persistent);
  }
  // Data pages kDataGfn + i granted as refs 100 + i.
  void grant_data(unsigned n, bool readonly = false) {
    for (unsigned i = 0; i < n; i++) g.grant(100 + i, kDataGfn + i, readonly);
  }
  bool expect_pattern(const uint8_t* p, size_t bytes, uint64_t sector, uint64_t salt) {
    std::vector<uint8_t> want(bytes);
    fill_pattern(want.data(), bytes, sector, salt);
    return std::memcmp(p, want.data(), bytes) == 0;
  }

  std::unique_ptr<TempDisk> disk_;
  FakeGuest g;
};

TEST_F(BlkQueueTest, ReadReturnsTheImageBytes) {
  start();
  grant_data(11);
  auto rsp = g.run(rw_request(B::BLKIF_OP_READ, 7, 64, 11, 100));
  EXPECT_EQ(rsp.id, 7u);
  EXPECT_EQ(rsp.op, B::BLKIF_OP_READ);
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn), 11 * 4096, 64, 1));
  EXPECT_EQ(g.stats.reads.load(), 1u);
  EXPECT_EQ(g.stats.sectors_read.load(), 88u);
  // O_DIRECT wherever the file system offers it (ext4 under /var/tmp here).
  EXPECT_EQ((store()->direct() ? g.stats.direct_io : g.stats.buffered_io).load(), 1u);
  for (unsigned i = 0; i < 11; i++) EXPECT_FALSE(g.in_use(100 + i)) << "grant " << i << " still held";
}

TEST_F(BlkQueueTest, WriteReachesTheImage) {
  start();
  grant_data(4, true);  // a WRITE only reads guest memory: read-only grants do
  fill_pattern(g.page(kDataGfn), 4 * 4096, 1000, 2);
  auto rsp = g.run(rw_request(B::BLKIF_OP_WRITE, 1, 1000, 4, 100));
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  auto img = disk_->read(1000 * 512, 4 * 4096);
  EXPECT_TRUE(expect_pattern(img.data(), img.size(), 1000, 2));
  // Neighbours untouched.
  EXPECT_TRUE(expect_pattern(disk_->read(999 * 512, 512).data(), 512, 999, 1));
  EXPECT_TRUE(expect_pattern(disk_->read(1032 * 512, 512).data(), 512, 1032, 1));
  EXPECT_EQ(g.stats.sectors_written.load(), 32u);
}

TEST_F(BlkQueueTest, PartialSegments) {
  start();
  grant_data(3);
  std::memset(g.page(kDataGfn), 0xee, 3 * 4096);
  // Sectors 2..4 of page 0, 0..7 of page 1, 7 of page 2: 12 sectors from 200.
  auto r = rw_request(B::BLKIF_OP_READ, 3, 200, 3, 100);
  r.seg[0] = {100, 2, 4, 0};
  r.seg[2] = {102, 7, 7, 0};
  EXPECT_EQ(g.run(r).status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn) + 2 * 512, 3 * 512, 200, 1));
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn + 1), 4096, 203, 1));
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn + 2) + 7 * 512, 512, 211, 1));
  // Outside the segments, guest memory is untouched.
  for (size_t i = 0; i < 2 * 512; i++) ASSERT_EQ(g.page(kDataGfn)[i], 0xee);
  for (size_t i = 5 * 512; i < 4096; i++) ASSERT_EQ(g.page(kDataGfn)[i], 0xee);
  for (size_t i = 0; i < 7 * 512; i++) ASSERT_EQ(g.page(kDataGfn + 2)[i], 0xee);

  // And a partial write lands in the right sectors.
  fill_pattern(g.page(kDataGfn) + 3 * 512, 512, 500, 9);
  auto w = rw_request(B::BLKIF_OP_WRITE, 4, 500, 1, 100, 3, 3);
  EXPECT_EQ(g.run(w).status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(disk_->read(500 * 512, 512).data(), 512, 500, 9));
  EXPECT_TRUE(expect_pattern(disk_->read(501 * 512, 512).data(), 512, 501, 1));
}

TEST_F(BlkQueueTest, LastSectorOfTheDisk) {
  start();
  grant_data(1);
  auto r = rw_request(B::BLKIF_OP_READ, 1, kDiskSectors - 8, 1, 100);
  EXPECT_EQ(g.run(r).status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn), 4096, kDiskSectors - 8, 1));
  r.sector_number = kDiskSectors - 7;
  EXPECT_EQ(g.run(r).status, B::BLKIF_RSP_ERROR);
}

TEST_F(BlkQueueTest, FlushAndFlushWithData) {
  start();
  grant_data(1);
  B::blkif_request f{};
  f.operation = B::BLKIF_OP_FLUSH_DISKCACHE;
  f.id = 42;
  auto rsp = g.run(f);
  EXPECT_EQ(rsp.id, 42u);
  EXPECT_EQ(rsp.op, B::BLKIF_OP_FLUSH_DISKCACHE);
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  fill_pattern(g.page(kDataGfn), 4096, 16, 5);
  auto fw = rw_request(B::BLKIF_OP_FLUSH_DISKCACHE, 43, 16, 1, 100);
  EXPECT_EQ(g.run(fw).status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(disk_->read(16 * 512, 4096).data(), 4096, 16, 5));
  EXPECT_EQ(g.stats.flushes.load(), 2u);
}

TEST_F(BlkQueueTest, WritesThenFlushInOneBatch) {
  start(false, 2);
  grant_data(32, true);
  for (unsigned i = 0; i < 32; i++) {
    fill_pattern(g.page(kDataGfn + i), 4096, 4000 + i * 8, 6);
    g.queue_request(rw_request(B::BLKIF_OP_WRITE, i, 4000 + i * 8, 1, 100 + i));
  }
  B::blkif_request f{};
  f.operation = B::BLKIF_OP_FLUSH_DISKCACHE;
  f.id = 999;
  g.queue_request(f);
  g.push();
  auto rs = g.responses(33);
  ASSERT_EQ(rs.size(), 33u);
  for (auto& r : rs) EXPECT_EQ(r.status, B::BLKIF_RSP_OKAY) << r.id;
  EXPECT_TRUE(expect_pattern(disk_->read(4000 * 512, 32 * 4096).data(), 32 * 4096, 4000, 6));
}

TEST_F(BlkQueueTest, DiscardPunchesAHole) {
  start();
  const uint64_t before = disk_->allocated_bytes();
  B::blkif_request_discard d{};
  d.operation = B::BLKIF_OP_DISCARD;
  d.id = 5;
  d.sector_number = 2048;     // 1 MiB
  d.nr_sectors = 2048;        // 1 MiB
  auto rsp = g.run_raw(d);
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(rsp.op, B::BLKIF_OP_DISCARD);
  EXPECT_LE(disk_->allocated_bytes() + (1u << 20), before);
  auto hole = disk_->read(2048 * 512, 1 << 20);
  for (uint8_t b : hole) ASSERT_EQ(b, 0);
  EXPECT_TRUE(expect_pattern(disk_->read(4096 * 512, 512).data(), 512, 4096, 1));
  EXPECT_EQ(g.stats.sectors_discarded.load(), 2048u);
  d.nr_sectors = 0;  // nothing to do
  EXPECT_EQ(g.run_raw(d).status, B::BLKIF_RSP_OKAY);
}

TEST_F(BlkQueueTest, IndirectReadAndWrite) {
  start();
  // 200 segments: data pages 64..263, descriptors in page 40 (ref 50).
  const unsigned n = 200;
  for (unsigned i = 0; i < n; i++) g.grant(100 + i, kDataGfn + i);
  g.grant(50, 40, true);
  auto* desc = reinterpret_cast<B::blkif_request_segment*>(g.page(40));
  for (unsigned i = 0; i < n; i++) desc[i] = {100 + i, 0, 7, 0};
  B::blkif_request_indirect ind{};
  ind.operation = B::BLKIF_OP_INDIRECT;
  ind.indirect_op = B::BLKIF_OP_READ;
  ind.nr_segments = n;
  ind.id = 77;
  ind.sector_number = 800;
  ind.indirect_grefs[0] = 50;
  auto rsp = g.run_raw(ind);
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(rsp.op, B::BLKIF_OP_READ);  // the inner operation, as Linux's blkfront expects
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn), n * 4096, 800, 1));

  fill_pattern(g.page(kDataGfn), n * 4096, 3000, 8);
  ind.indirect_op = B::BLKIF_OP_WRITE;
  ind.sector_number = 3000;
  rsp = g.run_raw(ind);
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(rsp.op, B::BLKIF_OP_WRITE);
  EXPECT_TRUE(expect_pattern(disk_->read(3000 * 512, n * 4096).data(), n * 4096, 3000, 8));
  EXPECT_EQ(g.stats.indirect.load(), 2u);
  EXPECT_FALSE(g.in_use(50));
}

TEST_F(BlkQueueTest, X86_32Layout) {
  start(false, 0, Abi::kX86_32);
  EXPECT_EQ(g.ring_size(), 32u);
  grant_data(2);
  fill_pattern(g.page(kDataGfn), 2 * 4096, 120, 3);
  auto rsp = g.run(rw_request(B::BLKIF_OP_WRITE, 0x123456789ull, 120, 2, 100));
  EXPECT_EQ(rsp.id, 0x123456789ull);
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(disk_->read(120 * 512, 2 * 4096).data(), 2 * 4096, 120, 3));
  std::memset(g.page(kDataGfn), 0, 2 * 4096);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 2, 120, 2, 100)).status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(g.page(kDataGfn), 2 * 4096, 120, 3));
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 3, kDiskSectors, 1, 100)).status, B::BLKIF_RSP_ERROR);
}

TEST_F(BlkQueueTest, MultiPageRingFull) {
  start(false, 4);
  ASSERT_EQ(g.ring_size(), 512u);
  grant_data(1);
  for (unsigned i = 0; i < 512; i++) g.queue_request(rw_request(B::BLKIF_OP_READ, i, i * 8, 1, 100));
  g.push();
  auto rs = g.responses(512);
  ASSERT_EQ(rs.size(), 512u);
  std::vector<bool> seen(512);
  for (auto& r : rs) {
    ASSERT_LT(r.id, 512u);
    EXPECT_FALSE(seen[r.id]);
    seen[r.id] = true;
    EXPECT_EQ(r.status, B::BLKIF_RSP_OKAY);
  }
  // The ring is reusable after it wrapped.
  for (int round = 0; round < 3; round++) {
    for (unsigned i = 0; i < 300; i++) g.queue_request(rw_request(B::BLKIF_OP_READ, i, i, 1, 100, 0, 0));
    g.push();
    ASSERT_EQ(g.responses(300).size(), 300u);
  }
}

TEST_F(BlkQueueTest, NotificationsAreSuppressed) {
  start(false, 2);  // 128 slots
  grant_data(1);
  // The guest publishes 64 requests in one go: one kick for all of them.
  for (unsigned i = 0; i < 64; i++) g.queue_request(rw_request(B::BLKIF_OP_READ, i, i * 8, 1, 100));
  EXPECT_TRUE(g.push());
  ASSERT_EQ(g.responses(64).size(), 64u);
  // (The counters move just after the ring does: wait for them.)
  EXPECT_TRUE(eventually([&] { return g.stats.kicks.load() == 1 && g.stats.notifies.load() >= 1; }));
  EXPECT_EQ(g.stats.kicks.load(), 1u);
  // However many batches the responses went out in, the back-end notified
  // only when the guest had armed rsp_event (once per wait at most).
  EXPECT_LE(g.stats.notifies.load(), 64u);
  // Requests pushed one by one while the back-end may be busy or idle: it
  // asks for a kick only when idle, and none is ever lost (every request
  // is answered, whatever the interleaving).
  for (int round = 0; round < 20; round++) {
    for (unsigned i = 0; i < 16; i++) {
      g.queue_request(rw_request(B::BLKIF_OP_READ, i, i * 8, 1, 100));
      g.push();
    }
    ASSERT_EQ(g.responses(16).size(), 16u) << "round " << round;
  }
  EXPECT_LE(g.stats.kicks.load(), 1u + 20 * 16);
}

TEST_F(BlkQueueTest, PersistentGrantsStayMappedUntilStop) {
  start(false, 0, Abi::kNative, true);
  grant_data(4);
  for (int i = 0; i < 5; i++) {
    fill_pattern(g.page(kDataGfn), 4 * 4096, 300, 10 + i);
    ASSERT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, i, 300, 4, 100)).status, B::BLKIF_RSP_OKAY);
    std::memset(g.page(kDataGfn), 0, 4 * 4096);
    ASSERT_EQ(g.run(rw_request(B::BLKIF_OP_READ, i, 300, 4, 100)).status, B::BLKIF_RSP_OKAY);
    EXPECT_TRUE(expect_pattern(g.page(kDataGfn), 4 * 4096, 300, 10 + i));
  }
  EXPECT_EQ(g.stats.persistent_grants.load(), 4u);
  EXPECT_TRUE(g.in_use(100));
  g.stop();
  EXPECT_EQ(g.stats.persistent_grants.load(), 0u);
  for (unsigned i = 0; i < 4; i++) EXPECT_FALSE(g.in_use(100 + i));
  // A read-only grant still serves a WRITE with persistence negotiated.
}

TEST_F(BlkQueueTest, PersistentWithReadOnlyGrantStillWrites) {
  start(false, 0, Abi::kNative, true);
  grant_data(1, true);
  fill_pattern(g.page(kDataGfn), 4096, 40, 4);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 1, 40, 1, 100)).status, B::BLKIF_RSP_OKAY);
  EXPECT_TRUE(expect_pattern(disk_->read(40 * 512, 4096).data(), 4096, 40, 4));
  // ... but never a READ into it.
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 2, 40, 1, 100)).status, B::BLKIF_RSP_ERROR);
  EXPECT_EQ(g.stats.fault_count(Fault::kBadGrant), 1u);
}

TEST_F(BlkQueueTest, ReadOnlyDisk) {
  start(true);
  grant_data(1);
  const auto before = disk_->read(0, 4096);
  std::memset(g.page(kDataGfn), 0x5a, 4096);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 1, 0, 1, 100)).status, B::BLKIF_RSP_ERROR);
  EXPECT_EQ(disk_->read(0, 4096), before);
  EXPECT_EQ(g.stats.fault_count(Fault::kReadOnly), 1u);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 2, 0, 1, 100)).status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(std::vector<uint8_t>(g.page(kDataGfn), g.page(kDataGfn) + 4096), before);
  B::blkif_request_discard d{};
  d.operation = B::BLKIF_OP_DISCARD;
  d.nr_sectors = 8;
  EXPECT_EQ(g.run_raw(d).status, B::BLKIF_RSP_EOPNOTSUPP);
}

// Every hostile request gets an error response, touches neither the
// image nor guest memory it was not granted, and is counted.
TEST_F(BlkQueueTest, HostileRequests) {
  start();
  grant_data(2);
  g.grant(120, kDataGfn + 20, true);                // read-only grant
  g.grant(121, kDataGfn + 21, false, 7);            // granted to domain 7, not us
  g.grant(122, kRamPages + 5);                      // frame outside RAM
  g.entry(123) = {G::GTF_invalid, 0, uint32_t(kDataGfn)};  // not granted
  const auto image = disk_->read(0, kDiskBytes);
  std::memset(g.page(kDataGfn), 0x11, 2 * 4096);
  std::memset(g.page(kDataGfn + 20), 0x22, 4096);

  struct Case {
    const char* what;
    B::blkif_request r;
    int16_t status;
    Fault fault;
  };
  std::vector<Case> cases;
  auto add = [&](const char* what, B::blkif_request r, int16_t st, Fault f) { cases.push_back({what, r, st, f}); };
  auto rd = [](uint64_t sector, unsigned n, xen::grant_ref_t ref) { return rw_request(B::BLKIF_OP_READ, 1, sector, n, ref); };
  auto wr = [](uint64_t sector, unsigned n, xen::grant_ref_t ref) { return rw_request(B::BLKIF_OP_WRITE, 1, sector, n, ref); };
  const int16_t E = B::BLKIF_RSP_ERROR, N = B::BLKIF_RSP_EOPNOTSUPP;

  auto r = rd(0, 1, 100);
  r.operation = B::BLKIF_OP_WRITE_BARRIER;
  add("barrier", r, N, Fault::kUnsupportedOp);
  r.operation = B::BLKIF_OP_RESERVED_1;
  add("reserved op", r, N, Fault::kUnsupportedOp);
  r.operation = 0x77;
  add("unknown op", r, N, Fault::kUnsupportedOp);
  add("zero segments", rd(0, 0, 100), E, Fault::kBadNrSegments);
  r = rd(0, 1, 100);
  r.nr_segments = 12;
  add("12 segments", r, E, Fault::kBadNrSegments);
  r.nr_segments = 255;
  add("255 segments", r, E, Fault::kBadNrSegments);
  r = rd(0, 1, 100);
  r.seg[0] = {100, 4, 3, 0};
  add("first > last", r, E, Fault::kBadSegment);
  r.seg[0] = {100, 0, 8, 0};
  add("last_sect 8", r, E, Fault::kBadSegment);
  r.seg[0] = {100, 200, 250, 0};
  add("sectors far past the page", r, E, Fault::kBadSegment);
  add("read past the end", rd(kDiskSectors - 4, 1, 100), E, Fault::kBadRange);
  add("write past the end", wr(kDiskSectors, 1, 100), E, Fault::kBadRange);
  add("sector wraps", rd(~0ull - 2, 1, 100), E, Fault::kBadRange);
  add("read into a read-only grant", rd(0, 1, 120), E, Fault::kBadGrant);
  add("grant for another domain", wr(0, 1, 121), E, Fault::kBadGrant);
  add("grant of a frame outside RAM", rd(0, 1, 122), E, Fault::kBadGrant);
  add("not granted", wr(0, 1, 123), E, Fault::kBadGrant);
  add("grant ref beyond the table", wr(0, 1, 4000), E, Fault::kBadGrant);
  add("grant ref ~0", wr(0, 1, 0xffffffffu), E, Fault::kBadGrant);
  r = wr(0, 2, 100);
  r.seg[1].gref = 123;  // one good segment, one bad: nothing written
  add("second segment not granted", r, E, Fault::kBadGrant);
  r = rw_request(B::BLKIF_OP_FLUSH_DISKCACHE, 1, 0, 12, 100);
  add("flush with 12 segments", r, E, Fault::kBadNrSegments);

  for (auto& c : cases) {
    SCOPED_TRACE(c.what);
    c.r.id = 0xdead0000 + (&c - cases.data());
    auto rsp = g.run(c.r);
    EXPECT_EQ(rsp.id, c.r.id);
    EXPECT_EQ(rsp.op, c.r.operation);
    EXPECT_EQ(rsp.status, c.status);
  }
  // Indirect and discard forms.
  B::blkif_request_indirect ind{};
  ind.operation = B::BLKIF_OP_INDIRECT;
  ind.indirect_op = B::BLKIF_OP_WRITE;
  ind.nr_segments = 2;
  ind.indirect_grefs[0] = 123;  // descriptor page not granted
  EXPECT_EQ(g.run_raw(ind).status, E);
  g.grant(60, 41, true);
  auto* desc = reinterpret_cast<B::blkif_request_segment*>(g.page(41));
  desc[0] = {100, 0, 7, 0};
  desc[1] = {100, 6, 9, 0};  // bad descriptor
  ind.indirect_grefs[0] = 60;
  EXPECT_EQ(g.run_raw(ind).status, E);
  desc[1] = {123, 0, 7, 0};  // descriptor naming a grant not given
  EXPECT_EQ(g.run_raw(ind).status, E);
  ind.nr_segments = 257;  // more than offered
  EXPECT_EQ(g.run_raw(ind).status, E);
  ind.nr_segments = 0;
  EXPECT_EQ(g.run_raw(ind).status, E);
  ind.nr_segments = 2;
  ind.indirect_op = B::BLKIF_OP_DISCARD;
  EXPECT_EQ(g.run_raw(ind).status, E);
  ind.indirect_op = B::BLKIF_OP_INDIRECT;
  EXPECT_EQ(g.run_raw(ind).status, E);
  B::blkif_request_discard d{};
  d.operation = B::BLKIF_OP_DISCARD;
  d.sector_number = kDiskSectors - 1;
  d.nr_sectors = 2;
  EXPECT_EQ(g.run_raw(d).status, E);
  d.sector_number = 8;
  d.nr_sectors = ~0ull;
  EXPECT_EQ(g.run_raw(d).status, E);
  d.nr_sectors = 8;
  d.flag = B::BLKIF_DISCARD_SECURE;
  EXPECT_EQ(g.run_raw(d).status, N);

  // Nothing changed on disk or in guest memory; no grant is still held.
  EXPECT_TRUE(disk_->read(0, kDiskBytes) == image);
  for (size_t i = 0; i < 2 * 4096; i++) ASSERT_EQ(g.page(kDataGfn)[i], 0x11);
  for (size_t i = 0; i < 4096; i++) ASSERT_EQ(g.page(kDataGfn + 20)[i], 0x22);
  for (xen::grant_ref_t ref : {50u, 60u, 100u, 101u, 120u, 121u, 122u, 123u}) EXPECT_FALSE(g.in_use(ref)) << ref;
  EXPECT_EQ(g.stats.errors.load(), cases.size() + 10);
  EXPECT_EQ(g.stats.fault_count(Fault::kBadGrant), 7u + 2);
  EXPECT_EQ(g.stats.fault_count(Fault::kBadIndirect), 2u);
  EXPECT_TRUE(g.fatal().empty());
  // Still serving.
  EXPECT_EQ(g.run(rd(0, 1, 100)).status, B::BLKIF_RSP_OKAY);
}

TEST_F(BlkQueueTest, OverflowedRingIsFatalAndStopsService) {
  start();
  grant_data(1);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 1, 0, 1, 100)).status, B::BLKIF_RSP_OKAY);
  g.overflow_ring();
  ASSERT_TRUE(eventually([&] { return !g.fatal().empty(); }));
  EXPECT_NE(g.fatal()[0].find("overflow"), std::string::npos);
  EXPECT_EQ(g.stats.ring_broken.load(), 1u);
  const uint64_t before = g.stats.requests.load();
  g.overflow_ring();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(g.stats.requests.load(), before);  // nothing more taken from a broken ring
  EXPECT_EQ(g.fatal().size(), 1u);              // reported once
  g.stop();
}

TEST_F(BlkQueueTest, StopCompletesInFlightIo) {
  start(false, 3);
  grant_data(11);
  for (unsigned i = 0; i < 200; i++) g.queue_request(rw_request(B::BLKIF_OP_READ, i, (i * 88) % (kDiskSectors - 88), 11, 100));
  g.push();
  g.stop();  // may run before or after the I/O started: every grant is released after
  for (unsigned i = 0; i < 11; i++) EXPECT_FALSE(g.in_use(100 + i));
}

TEST_F(BlkQueueTest, EmptyDrive) {
  Limits l;
  l.readonly = true;
  g.start(nullptr, l);
  grant_data(1);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 1, 0, 1, 100)).status, B::BLKIF_RSP_ERROR);
  B::blkif_request f{};
  f.operation = B::BLKIF_OP_FLUSH_DISKCACHE;
  EXPECT_EQ(g.run(f).status, B::BLKIF_RSP_OKAY);
}

TEST(HostFile, FileProperties) {
  TempDisk d(3 * 1024 * 1024 + 700);
  HostFile s(d.path(), false);
  EXPECT_EQ(s.bytes(), 3u * 1024 * 1024 + 700);
  EXPECT_EQ(s.sectors(), (3u * 1024 * 1024 + 700) / 512);
  EXPECT_FALSE(s.block_device());
  EXPECT_TRUE(s.discard_supported());
  EXPECT_EQ(s.logical_sector_size(), 512u);
  if (pv::UniqueFd fd(::open(d.path().c_str(), O_RDWR | O_DIRECT | O_CLOEXEC)); fd) {
    EXPECT_TRUE(s.direct());  // the file system takes O_DIRECT: so does the store
  }
  HostFile ro(d.path(), true);
  EXPECT_FALSE(ro.discard_supported());
  EXPECT_THROW(HostFile("/nonexistent/disk.img", false), pv::UserError);
  EXPECT_THROW(HostFile("/dev/null", false), pv::UserError);
  TempDisk tiny(100);
  EXPECT_THROW(HostFile(tiny.path(), false), pv::UserError);
}

TEST(HostFile, Tmpfs) {
  TempDisk d(1 << 20, "/dev/shm");
  HostFile s(d.path(), false);
  EXPECT_EQ(s.sectors(), 2048u);
  // Direct or not (tmpfs gained O_DIRECT in Linux 6.6), I/O works: see
  // the queue test below.
  FakeGuest g;
  Limits l;
  l.disk_sectors = s.sectors();
  l.discard = true;
  g.start(std::make_shared<HostFile>(d.path(), false), l);
  g.grant(100, kDataGfn);
  fill_pattern(g.page(kDataGfn), 4096, 8, 3);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 1, 8, 1, 100)).status, B::BLKIF_RSP_OKAY);
  std::memset(g.page(kDataGfn), 0, 4096);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 2, 8, 1, 100)).status, B::BLKIF_RSP_OKAY);
  std::vector<uint8_t> want(4096);
  fill_pattern(want.data(), 4096, 8, 3);
  EXPECT_EQ(std::memcmp(g.page(kDataGfn), want.data(), 4096), 0);
}

// A block device (a loop device over a temporary file, when this runs as
// root with loop devices available): size, sector sizes, I/O, BLKDISCARD.
TEST(HostFile, BlockDevice) {
  TempDisk backing(4 << 20);
  std::string dev;
  if (FILE* p = ::popen(("losetup -f --show " + backing.path() + " 2>/dev/null").c_str(), "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof buf, p)) dev = buf;
    ::pclose(p);
  }
  while (!dev.empty() && (dev.back() == '\n' || dev.back() == ' ')) dev.pop_back();
  if (dev.empty()) GTEST_SKIP() << "no loop device (needs root and losetup)";
  struct Detach {
    std::string dev;
    ~Detach() { (void)!std::system(("losetup -d " + dev).c_str()); }
  } detach{dev};
  auto s = std::make_shared<HostFile>(dev, false);
  EXPECT_TRUE(s->block_device());
  EXPECT_EQ(s->sectors(), 8192u);
  EXPECT_EQ(s->logical_sector_size(), 512u);
  FakeGuest g;
  Limits l;
  l.disk_sectors = s->sectors();
  l.discard = s->discard_supported();
  g.start(s, l);
  g.grant(100, kDataGfn);
  fill_pattern(g.page(kDataGfn), 4096, 64, 12);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 1, 64, 1, 100)).status, B::BLKIF_RSP_OKAY);
  B::blkif_request f{};
  f.operation = B::BLKIF_OP_FLUSH_DISKCACHE;
  EXPECT_EQ(g.run(f).status, B::BLKIF_RSP_OKAY);
  std::memset(g.page(kDataGfn), 0, 4096);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 2, 64, 1, 100)).status, B::BLKIF_RSP_OKAY);
  std::vector<uint8_t> want(4096);
  fill_pattern(want.data(), 4096, 64, 12);
  EXPECT_EQ(std::memcmp(g.page(kDataGfn), want.data(), 4096), 0);
  if (s->discard_supported()) {
    B::blkif_request_discard d{};
    d.operation = B::BLKIF_OP_DISCARD;
    d.sector_number = 64;
    d.nr_sectors = 8;
    EXPECT_EQ(g.run_raw(d).status, B::BLKIF_RSP_OKAY);
    EXPECT_EQ(g.stats.sectors_discarded.load(), 8u);
  }
  g.stop();
}

}  // namespace
}  // namespace blktest
