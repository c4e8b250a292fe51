// pvguest: `blkio=` - a block I/O tool on blkfront (see docs/guest-kernel.md
// for the syntax, the output lines and the data pattern).
//
// The per-I/O path only fills in a Request and submits it (batched, one
// push per round); the data pattern is generated and checked only when a
// command asks for it, with unrolled 8-byte word loops (every guest
// instruction is emulated: ~1 ms per 4 KiB either way).
#include "blkfront.h"

#include "console.h"
#include "lib.h"
#include "mm.h"
#include "modes.h"
#include "pvtime.h"
#include "xenbus.h"

namespace {
using blkfront::Device;
using blkfront::Request;

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr unsigned kMaxQd = 256;
constexpr uint64_t kStallNs = 60000000000ull;  // no completion for this long: give up

// ---- the pattern: each 512-byte sector s holds 64 little-endian words,
// word w = s * 0x9E3779B97F4A7C15 + seed + w (mod 2^64) ----
void fill(void* buf, uint64_t sector, uint32_t bytes, uint64_t seed) {
  uint64_t* p = static_cast<uint64_t*>(buf);
  for (uint32_t n = bytes >> 9; n; n--, sector++, p += 64) {
    uint64_t b = sector * kGolden + seed;
    for (unsigned w = 0; w < 64; w += 8, b += 8) {
      p[w] = b;
      p[w + 1] = b + 1;
      p[w + 2] = b + 2;
      p[w + 3] = b + 3;
      p[w + 4] = b + 4;
      p[w + 5] = b + 5;
      p[w + 6] = b + 6;
      p[w + 7] = b + 7;
    }
  }
}

struct Mismatch {
  uint64_t sector;
  unsigned word;
  uint64_t got, want;
};

// True if buf holds the pattern; else the first wrong word in *m.
bool check(const void* buf, uint64_t sector, uint32_t bytes, uint64_t seed, Mismatch* m) {
  const uint64_t* p = static_cast<const uint64_t*>(buf);
  for (uint32_t n = bytes >> 9; n; n--, sector++, p += 64) {
    const uint64_t base = sector * kGolden + seed;
    uint64_t b = base, acc = 0;
    for (unsigned w = 0; w < 64; w += 8, b += 8)
      acc |= (p[w] ^ b) | (p[w + 1] ^ (b + 1)) | (p[w + 2] ^ (b + 2)) | (p[w + 3] ^ (b + 3)) |
             (p[w + 4] ^ (b + 4)) | (p[w + 5] ^ (b + 5)) | (p[w + 6] ^ (b + 6)) | (p[w + 7] ^ (b + 7));
    if (acc == 0) continue;
    for (unsigned w = 0; w < 64; w++)
      if (p[w] != base + w) {
        *m = Mismatch{sector, w, p[w], base + w};
        return false;
      }
  }
  return true;
}

// ---- command ----
struct Cmd {
  bool io = false;          // a read/write phase
  bool write = false;
  bool rand = false;
  bool verify = false;
  bool pattern = false;
  bool flush = false;
  bool discard = false;
  bool secure = false;
  bool info = false;
  bool has_dev = false;
  uint64_t dev = 0;
  uint64_t bs = 4096;
  uint64_t qd = 1;
  uint64_t count = 0, bytes = 0;
  uint64_t start = 0;
  uint64_t range = 0;       // sectors; 0 = to the end of the disk
  uint64_t seed = 1;
  uint64_t discard_start = 0, discard_sectors = 0;
  uint64_t sleep_ms = 0;
};

bool parse_size(const char* s, size_t n, uint64_t& v) {
  uint64_t mul = 1;
  if (n > 1) {
    char c = s[n - 1];
    if (c == 'k' || c == 'K') mul = 1024;
    else if (c == 'm' || c == 'M') mul = 1024 * 1024;
    else if (c == 'g' || c == 'G') mul = 1024ull * 1024 * 1024;
    if (mul != 1) n--;
  }
  if (!lib::parse_u64(s, n, v)) return false;
  v *= mul;
  return true;
}

bool parse_cmd(const char* s, size_t len, Cmd& c) {
  const char* end = s + len;
  while (s < end) {
    const char* w = s;
    while (s < end && *s != ',') s++;
    size_t wlen = size_t(s - w);
    if (s < end) s++;
    if (!wlen) continue;
    const char* eq = w;
    while (eq < w + wlen && *eq != '=') eq++;
    size_t klen = size_t(eq - w);
    const char* val = eq < w + wlen ? eq + 1 : w + wlen;
    size_t vlen = size_t(w + wlen - val);
    auto is = [&](const char* k) { return strlen(k) == klen && memcmp(w, k, klen) == 0; };
    bool ok = true;
    if (is("read") && !vlen) c.io = true, c.write = false;
    else if (is("write") && !vlen) c.io = true, c.write = true;
    else if (is("seq") && !vlen) c.rand = false;
    else if (is("rand") && !vlen) c.rand = true;
    else if (is("verify") && !vlen) c.verify = true;
    else if (is("pattern") && !vlen) c.pattern = true;
    else if (is("flush") && !vlen) c.flush = true;
    else if (is("secure") && !vlen) c.secure = true;
    else if (is("info") && !vlen) c.info = true;
    else if (is("dev")) ok = lib::parse_u64(val, vlen, c.dev), c.has_dev = true;
    else if (is("bs")) ok = parse_size(val, vlen, c.bs);
    else if (is("qd")) ok = lib::parse_u64(val, vlen, c.qd);
    else if (is("count")) ok = lib::parse_u64(val, vlen, c.count), c.io = true;
    else if (is("bytes")) ok = parse_size(val, vlen, c.bytes), c.io = true;
    else if (is("start")) ok = lib::parse_u64(val, vlen, c.start);
    else if (is("range")) ok = lib::parse_u64(val, vlen, c.range);
    else if (is("seed")) ok = lib::parse_u64(val, vlen, c.seed);
    else if (is("sleep")) ok = lib::parse_u64(val, vlen, c.sleep_ms);
    else if (is("discard")) {
      const char* colon = val;
      while (colon < val + vlen && *colon != ':') colon++;
      ok = colon < val + vlen && lib::parse_u64(val, size_t(colon - val), c.discard_start) &&
           lib::parse_u64(colon + 1, size_t(val + vlen - colon - 1), c.discard_sectors);
      c.discard = true;
    } else ok = false;
    if (!ok) {
      char t[48];
      size_t m = wlen < sizeof t - 1 ? wlen : sizeof t - 1;
      memcpy(t, w, m);
      t[m] = 0;
      con::printf("BLKIO bad word '%s'\n", t);
      return false;
    }
  }
  if (c.qd < 1 || c.qd > kMaxQd) {
    con::printf("BLKIO qd must be 1..%u\n", kMaxQd);
    return false;
  }
  return true;
}

// ---- one read or write phase ----
struct Slot {
  Request r;
  uint8_t* buf;
  bool busy;
};

struct Phase {
  Device* dev;
  const Cmd* c;
  bool write, pattern, verify;
  uint64_t nblocks;   // in the area
  uint64_t spb;       // sectors per block
  uint64_t rng;
  uint64_t next_block;
  uint64_t errors = 0;
  uint64_t verify_bad = 0;
  Mismatch first{};
  uint64_t done = 0;
  Slot* slots;
  unsigned nfree;
  Slot* free_list[kMaxQd];
};

uint64_t next_sector(Phase& p) {
  uint64_t blk;
  if (p.c->rand) {
    p.rng ^= p.rng << 13;  // xorshift64
    p.rng ^= p.rng >> 7;
    p.rng ^= p.rng << 17;
    blk = p.rng % p.nblocks;
  } else {
    blk = p.next_block++ % p.nblocks;
  }
  return p.c->start + blk * p.spb;
}

void on_done(Request* r) {
  Slot* s = reinterpret_cast<Slot*>(r);  // r is the first member
  Phase& p = *static_cast<Phase*>(r->cookie);
  if (r->status != 0 || r->front_error) {
    if (p.errors++ < 4)
      con::printf("BLKIO %s sector %lu failed: status=%d front_error=%d\n", p.write ? "write" : "read", r->sector,
                  r->status, r->front_error);
  } else if (p.verify && !p.write) {
    Mismatch m;
    if (!check(s->buf, r->sector, r->bytes, p.c->seed, &m)) {
      if (p.verify_bad++ == 0) p.first = m;
    }
  }
  p.done++;
  s->busy = false;
  p.free_list[p.nfree++] = s;
}

bool run_phase(Device* d, const Cmd& c, Slot* slots, bool write, bool pattern, bool verify, uint64_t count,
               const char* label) {
  const blkfront::Info& in = blkfront::info(d);
  Phase p;
  p.dev = d;
  p.c = &c;
  p.write = write;
  p.pattern = pattern;
  p.verify = verify;
  p.spb = c.bs >> 9;
  uint64_t area = c.range ? c.range : in.sectors - c.start;
  p.nblocks = area / p.spb;
  p.rng = c.seed ^ kGolden;
  if (!p.rng) p.rng = kGolden;
  p.next_block = 0;
  p.slots = slots;
  p.nfree = 0;
  for (unsigned i = c.qd; i > 0; i--) p.free_list[p.nfree++] = &slots[i - 1];
  const blkfront::Stats before = blkfront::stats(d);
  uint64_t issued = 0;
  const uint64_t t0 = pvclock::now();
  uint64_t idle_s = 0;
  while (p.done < count) {
    bool any = false;
    while (issued < count && p.nfree) {
      Slot* s = p.free_list[--p.nfree];
      s->busy = true;
      Request& r = s->r;
      r.op = write ? blkfront::kWrite : blkfront::kRead;
      r.sector = next_sector(p);
      r.buf = s->buf;
      r.bytes = uint32_t(c.bs);
      r.done_fn = on_done;
      r.cookie = &p;
      if (write && pattern) fill(s->buf, r.sector, r.bytes, c.seed);
      issued++;
      any = true;
      blkfront::submit(d, &r, false);
    }
    if (any) blkfront::push(d);
    if (p.done >= count) break;
    // wait() returns 0 only after a whole second without a completion.
    if (blkfront::wait(d, 1000000000ull)) idle_s = 0;
    else if (++idle_s > kStallNs / 1000000000ull) {
      con::printf("BLKIO %s: no completion for %lu s (%lu of %lu done, %u in flight); giving up\n", label,
                  uint64_t(kStallNs / 1000000000ull), p.done, count, blkfront::in_flight(d));
      return false;
    }
  }
  const uint64_t ns = pvclock::now() - t0;
  const blkfront::Stats& after = blkfront::stats(d);
  const uint64_t bytes = count * c.bs;
  const uint64_t iops = ns ? count * 1000000000ull / ns : 0;
  const uint64_t kbs = ns ? bytes * 1000000ull / ns : 0;  // bytes per ms = kB/s
  con::printf("BLKIO op=%s%s bs=%lu qd=%lu ios=%lu bytes=%lu ns=%lu iops=%lu mbps=%lu.%02lu errors=%lu "
              "requeued=%lu reconnects=%lu kicks=%lu sleeps=%lu\n",
              c.rand ? "rand" : "", label, c.bs, c.qd, count, bytes, ns, iops, kbs / 1000, (kbs % 1000) / 10,
              p.errors, after.requeued - before.requeued, after.reconnects - before.reconnects,
              after.notifies - before.notifies, after.sleeps - before.sleeps);
  if (verify && !write) {
    if (p.verify_bad == 0 && p.errors == 0)
      con::printf("BLKIO verify ok sectors=%lu\n", count * p.spb);
    else if (p.verify_bad)
      con::printf("BLKIO verify FAILED at sector %lu (word %u: got 0x%lx want 0x%lx; %lu bad blocks)\n",
                  p.first.sector, p.first.word, p.first.got, p.first.want, p.verify_bad);
    else
      con::printf("BLKIO verify FAILED: %lu I/O errors\n", p.errors);
  }
  return p.errors == 0 && p.verify_bad == 0;
}

Device* pick(const Cmd& c) {
  if (!c.has_dev) {
    for (unsigned i = 0; i < blkfront::count(); i++)
      if (blkfront::connected(blkfront::device(i))) return blkfront::device(i);
    return blkfront::device(0);
  }
  if (Device* d = blkfront::find(uint32_t(c.dev))) return d;
  return blkfront::device(unsigned(c.dev));
}

void print_info(const blkfront::Info& in) {
  con::printf("BLKIO info dev=%u sectors=%lu sector-size=%u physical-sector-size=%u ro=%u queues=%u "
              "ring-pages=%u indirect=%u persistent=%u flush=%u discard=%u discard-granularity=%u "
              "discard-alignment=%u discard-secure=%u\n",
              in.handle, in.sectors, in.sector_size, in.physical_sector_size, in.readonly ? 1u : 0u,
              in.nr_queues, in.ring_pages, in.max_indirect, in.persistent ? 1u : 0u, in.flush ? 1u : 0u,
              in.discard ? 1u : 0u, in.discard_granularity, in.discard_alignment, in.discard_secure ? 1u : 0u);
}

// discard=S:N; false when it failed (unsupported is no failure).
bool run_discard(Device* d, const Cmd& c) {
  bool ok = true;
  Request r;
  r.op = blkfront::kDiscard;
  r.sector = c.discard_start;
  r.nr_sectors = c.discard_sectors;
  r.secure = c.secure;
  int16_t st = blkfront::sync(d, &r);
  if (r.front_error == -int(xen::XEN_EOPNOTSUPP) || st == xen::blkif::BLKIF_RSP_EOPNOTSUPP) {
    con::printf("BLKIO discard unsupported\n");
  } else if (st == 0) {
    con::printf("BLKIO discard ok start=%lu sectors=%lu\n", c.discard_start, c.discard_sectors);
  } else {
    con::printf("BLKIO discard FAILED status=%d front_error=%d\n", st, r.front_error);
    ok = false;
  }
  return ok;
}

// The I/O phase. kRefused: the command is refused as a whole (nothing
// after it runs); kFailed: it ran and failed.
enum class IoResult { kOk, kFailed, kRefused };

IoResult run_io(Device* d, const Cmd& c, const blkfront::Info& in) {
  bool ok = true;
  if (!c.bs || c.bs % in.sector_size || c.bs > (1u << 22)) {
    con::printf("BLKIO bs must be a multiple of %u up to 4 MiB\n", in.sector_size);
    return IoResult::kRefused;
  }
  if (c.start >= in.sectors || (c.range && c.range > in.sectors - c.start) ||
      (c.range ? c.range : in.sectors - c.start) < (c.bs >> 9)) {
    con::printf("BLKIO area start=%lu range=%lu does not fit %lu sectors\n", c.start, c.range, in.sectors);
    return IoResult::kRefused;
  }
  uint64_t area = c.range ? c.range : in.sectors - c.start;
  uint64_t count = c.count ? c.count : c.bytes ? c.bytes / c.bs : area / (c.bs >> 9);
  if (!count) {
    con::printf("BLKIO nothing to do (count 0)\n");
    return IoResult::kRefused;
  }
  if (c.write && in.readonly) con::printf("BLKIO note: device is read-only; writes will fail\n");
  // Buffers: one run of pages per slot (reused: persistent grants stay put).
  static Slot slots[kMaxQd];
  const size_t pages = (c.bs + mm::kPageSize - 1) / mm::kPageSize;
  unsigned got = 0;
  for (; got < c.qd; got++) {
    slots[got] = Slot{};
    slots[got].buf = static_cast<uint8_t*>(mm::alloc_pages(pages, c.write && (c.pattern || c.verify) ? mm::kNoZero : 0));
    if (!slots[got].buf) break;
  }
  if (got < c.qd) {
    con::printf("BLKIO out of memory for %lu x %lu-byte buffers\n", c.qd, c.bs);
    ok = false;
  } else if (c.write) {
    ok = run_phase(d, c, slots, true, c.pattern || c.verify, false, count, "write") && ok;
    if (c.verify) ok = run_phase(d, c, slots, false, false, true, count, "read") && ok;
  } else {
    ok = run_phase(d, c, slots, false, false, c.verify, count, "read") && ok;
  }
  for (unsigned i = 0; i < got; i++) mm::free_pages(slots[i].buf, pages);
  return ok ? IoResult::kOk : IoResult::kFailed;
}

// flush; false when it failed (unsupported is no failure).
bool run_flush(Device* d) {
  bool ok = true;
  Request r;
  r.op = blkfront::kFlush;
  uint64_t t0 = pvclock::now();
  int16_t st = blkfront::sync(d, &r);
  if (r.front_error == -int(xen::XEN_EOPNOTSUPP) || st == xen::blkif::BLKIF_RSP_EOPNOTSUPP) {
    con::printf("BLKIO flush unsupported\n");
  } else if (st == 0) {
    con::printf("BLKIO flush ok ns=%lu\n", pvclock::now() - t0);
  } else {
    con::printf("BLKIO flush FAILED status=%d\n", st);
    ok = false;
  }
  return ok;
}

bool run_cmd(const char* s, size_t len) {
  Cmd c;
  if (!parse_cmd(s, len, c)) return false;
  if (!c.io && !c.flush && !c.discard && !c.info) {
    con::printf("BLKIO nothing to do (no read, write, count=, bytes=, flush, discard= or info)\n");
    return false;
  }
  // Watch events are delivered while it waits, so a back-end change the
  // host makes meanwhile (an online resize) is seen before the command.
  if (c.sleep_ms) {
    const uint64_t end = pvclock::now() + c.sleep_ms * 1000000ull;
    for (uint64_t now = pvclock::now(); now < end; now = pvclock::now())
      if (xenbus::wait_events(end - now) < 0) pvclock::spin_ns(end - now);
  }
  Device* d = pick(c);
  if (!d) {
    con::printf("BLKIO no such device\n");
    return false;
  }
  if (!blkfront::info(d).sectors) {  // never connected: nothing is known about it
    con::printf("BLKIO vbd %u is not connected\n", blkfront::info(d).handle);
    return false;
  }
  const blkfront::Info& in = blkfront::info(d);
  bool ok = true;
  if (c.info) print_info(in);
  if (c.discard && !run_discard(d, c)) ok = false;
  if (c.io) {
    const IoResult r = run_io(d, c, in);
    if (r == IoResult::kRefused) return false;
    if (r == IoResult::kFailed) ok = false;
  }
  if (c.flush && !run_flush(d)) ok = false;
  return ok;
}
}  // namespace

// ---- cmdline: blkio=<cmds> (repeatable), blkhostile, blkfront=<opts> ----
namespace {
constexpr unsigned kMaxSpecs = 16;
const char* specs[kMaxSpecs];  // point into the kernel's copy of the command line
uint64_t spec_len[kMaxSpecs];
unsigned nspecs = 0;
bool hostile = false;

void run_blkio() {
  unsigned cmds = 0, failed = 0;
  if (blkfront::probe_all() == 0 && blkfront::count() == 0) {
    con::printf("BLKIO no block devices\n");
  } else {
    for (unsigned k = 0; k < nspecs; k++) {
      const char* s = specs[k];
      const char* end = s + spec_len[k];
      while (s < end) {
        const char* e = s;
        while (e < end && *e != ';') e++;
        if (e > s) {
          cmds++;
          if (!run_cmd(s, size_t(e - s))) failed++;
        }
        s = e < end ? e + 1 : e;
      }
    }
  }
  con::printf("BLKIO DONE cmds=%u failed=%u\n", cmds, failed);
}
}  // namespace

bool parse_blk_option(const char* key, uint64_t klen, const char* val, uint64_t vlen) {
  auto is = [&](const char* k) { return strlen(k) == klen && memcmp(key, k, klen) == 0; };
  if (is("blkio") && vlen) {
    if (nspecs == kMaxSpecs) con::printf("BLKIO more than %u blkio= keys: ignoring the rest\n", kMaxSpecs);
    else specs[nspecs] = val, spec_len[nspecs++] = vlen;
    return true;
  }
  if (is("blkhostile") && !vlen) return hostile = true;
  if (is("blkfront") && vlen) {
    blkfront::parse_config(val, vlen);
    return true;
  }
  return false;
}

void run_blk_modes() {
  if (nspecs) run_blkio();
  if (hostile) run_blkhostile();
}
