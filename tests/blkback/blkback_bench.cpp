// blkback_bench: blkback's own cost, without a VM. A synthetic front-end
// (fake_guest.h: guest RAM, grant table and ring in this process, driven
// as a front-end does, sleeping on its event channel between batches)
// keeps `qd` requests in flight on one BlkQueue against a backing file,
// and reports IOPS, MB/s and the CPU time per I/O of the back-end's queue
// thread and of the synthetic front-end. tests/bench/bench_blk.py runs it
// next to fio on the same file to separate blkback's overhead from the
// emulated guest's.
//
//   blkback_bench --file PATH --rw randread|read|write|randwrite --bs BYTES --qd N
//                 [--seconds S] [--persistent 0|1] [--format raw|qcow2]
// (--format qcow2: the image is served through Qcow2Image, as pv-backd
// serves format=qcow2; tests/bench/bench_qcow2_backend.py runs it against
// raw and against `qemu-img bench` on the same images.)
// Prints one line: "BLKQ rw=... bs=... qd=... ios=... seconds=... iops=...
// mbps=... backend_cpu_us_per_io=... frontend_cpu_us_per_io=...".
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "disk/open_disk_image.h"
#include "fake_guest.h"

using namespace blktest;

namespace {

uint64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
uint64_t process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void usage() {
  std::fputs("usage: blkback_bench --file PATH --rw randread|read|write|randwrite --bs BYTES --qd N [--seconds S] "
             "[--persistent 0|1] [--format raw|qcow2]\n",
             stderr);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string file, rw = "randread", format = "raw";
  uint64_t bs = 4096, qd = 1, persistent = 1;
  double seconds = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--file") file = v;
    else if (k == "--rw") rw = v;
    else if (k == "--bs") bs = std::stoull(v);
    else if (k == "--qd") qd = std::stoull(v);
    else if (k == "--seconds") seconds = std::stod(v);
    else if (k == "--persistent") persistent = std::stoull(v);
    else if (k == "--format") format = v;
    else usage();
  }
  const bool write = rw == "write" || rw == "randwrite", rnd = rw == "randread" || rw == "randwrite";
  if (file.empty() || bs < 512 || bs % 4096 || bs > (1u << 20) || qd < 1 || qd > 256 ||
      (!write && rw != "read" && rw != "randread"))
    usage();

  const uint64_t pages_per_io = bs / 4096;
  const uint64_t data_pages = qd * pages_per_io;
  const uint64_t desc_pages = pages_per_io > B::BLKIF_MAX_SEGMENTS_PER_REQUEST ? qd : 0;
  const uint64_t refs_needed = 100 + data_pages + desc_pages;
  const uint32_t frames = uint32_t((refs_needed + 511) / 512);
  if (frames > 14) usage();
  FakeGuest g(kDataGfn + data_pages + desc_pages + 16, frames);
  std::shared_ptr<pv::disk::DiskImage> image;
  try {
    image = pv::disk::open_disk_image(file, format, false);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "blkback_bench: %s\n", e.what());
    return 1;
  }
  Limits l;
  l.disk_sectors = image->sectors();
  const uint64_t spb = bs / 512, blocks = image->sectors() / spb;
  if (!blocks) usage();
  // Data pages kDataGfn.. (refs 100..), descriptor pages after them.
  for (uint64_t i = 0; i < data_pages; i++) g.grant(xen::grant_ref_t(100 + i), kDataGfn + i);
  const uint64_t desc_gfn = kDataGfn + data_pages;
  const xen::grant_ref_t desc_ref = xen::grant_ref_t(100 + data_pages);
  for (uint64_t i = 0; i < desc_pages; i++) g.grant(desc_ref + xen::grant_ref_t(i), desc_gfn + i, true);
  g.start_image(image, l, 4, Abi::kNative, persistent != 0);  // 512-slot ring, as a 16-page front-end

  uint64_t rng = 0x9E3779B97F4A7C15ull, next = 0;
  auto issue = [&](uint64_t slot) {
    uint64_t blk;
    if (rnd) {
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      blk = rng % blocks;
    } else {
      blk = next++ % blocks;
    }
    const uint8_t op = write ? B::BLKIF_OP_WRITE : B::BLKIF_OP_READ;
    const xen::grant_ref_t ref0 = xen::grant_ref_t(100 + slot * pages_per_io);
    if (pages_per_io <= B::BLKIF_MAX_SEGMENTS_PER_REQUEST) {
      g.queue_request(rw_request(op, slot, blk * spb, unsigned(pages_per_io), ref0));
    } else {
      auto* desc = reinterpret_cast<B::blkif_request_segment*>(g.page(desc_gfn + slot));
      for (uint64_t i = 0; i < pages_per_io; i++) desc[i] = {ref0 + xen::grant_ref_t(i), 0, 7, 0};
      B::blkif_request_indirect ind{};
      ind.operation = B::BLKIF_OP_INDIRECT;
      ind.indirect_op = op;
      ind.nr_segments = uint16_t(pages_per_io);
      ind.id = slot;
      ind.sector_number = blk * spb;
      ind.indirect_grefs[0] = desc_ref + xen::grant_ref_t(slot);
      g.queue_raw(ind);
    }
  };

  // Warm-up: one round of qd, not counted.
  for (uint64_t s = 0; s < qd; s++) issue(s);
  g.push();
  if (g.responses(qd).size() != qd) {
    std::fprintf(stderr, "blkback_bench: warm-up got no responses\n");
    return 1;
  }
  const uint64_t errors_before = g.stats.errors.load();
  const uint64_t t0 = now_ns(), p0 = process_cpu_ns(), m0 = thread_cpu_ns();
  const uint64_t deadline = t0 + uint64_t(seconds * 1e9);
  uint64_t done = 0;
  for (uint64_t s = 0; s < qd; s++) issue(s);
  g.push();
  std::vector<FakeGuest::Rsp> rs;
  bool stopping = false;
  uint64_t inflight = qd;
  while (inflight) {
    rs.clear();
    if (!g.drain(rs) && rs.empty()) {  // nothing: sleep until notified
      pollfd p{g.irq_fd(), POLLIN, 0};
      ::poll(&p, 1, 1000);
      uint64_t v;
      (void)!::read(g.irq_fd(), &v, 8);
      continue;
    }
    if (!stopping && now_ns() >= deadline) stopping = true;
    for (const auto& r : rs) {
      inflight--;
      done++;
      if (!stopping) {
        issue(r.id);
        inflight++;
      }
    }
    if (!stopping) g.push();
  }
  const uint64_t t1 = now_ns(), p1 = process_cpu_ns(), m1 = thread_cpu_ns();
  g.stop();
  const double secs = double(t1 - t0) / 1e9;
  const double fe = double(m1 - m0), be = double(p1 - p0) - fe;
  std::printf("BLKQ rw=%s bs=%lu qd=%lu ios=%lu seconds=%.3f iops=%.0f mbps=%.1f backend_cpu_us_per_io=%.2f "
              "frontend_cpu_us_per_io=%.2f direct=%d errors=%lu\n",
              rw.c_str(), (unsigned long)bs, (unsigned long)qd, (unsigned long)done, secs, double(done) / secs,
              double(done) * double(bs) / secs / 1e6, be / 1e3 / double(done), fe / 1e3 / double(done),
              image->file().direct() ? 1 : 0, (unsigned long)(g.stats.errors.load() - errors_before));
  return g.stats.errors.load() == errors_before ? 0 : 1;
}
