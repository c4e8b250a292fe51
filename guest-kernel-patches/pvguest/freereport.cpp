// pvguest: the `freereport=MIB` mode, free-page reporting seen from the
// host. With reporting on (balloon::enable_free_page_reporting), it takes
// MIB of memory and writes every page, frees it (the allocator hands the
// freed run back to the host), then takes it again (the host populates it,
// zeroed) and writes it again. Each phase prints a line and then waits 5 s
// so a host test can measure pv-hv's memory in between:
//   FREEREPORT touched kib=K current_kib=C
//   FREEREPORT freed reported_kib=R current_kib=C
//   FREEREPORT reused kib=K current_kib=C zeroed=ok|FAILED(N)
//   FREEREPORT done reported_kib=R repopulated_kib=P refused=N
// current_kib is XENMEM_current_reservation; afterwards the memory is
// freed (and reported) once more.
#include <xen/memory.h>

#include "balloon.h"
#include "console.h"
#include "hypercall.h"
#include "mm.h"
#include "modes.h"
#include "pvtime.h"

namespace {
constexpr uint64_t kPhaseWaitNs = 5000000000ull;

uint64_t current_kib() {
  xen::domid_t self = xen::DOMID_SELF;
  const long rc = hv::memory_op(xen::mem::op::current_reservation, &self);
  return rc < 0 ? 0 : uint64_t(rc) * 4;
}

// One word per page: the host backs the whole page.
void touch(uint8_t* p, uint64_t pages) {
  for (uint64_t i = 0; i < pages; i++) *reinterpret_cast<volatile uint64_t*>(p + (i << mm::kPageShift)) = i + 1;
}
}  // namespace

void run_freereport(uint64_t mib) {
  const uint64_t pages = mib * 256;
  balloon::enable_free_page_reporting();
  auto* p = static_cast<uint8_t*>(mm::alloc_pages(pages, mm::kNoZero));
  if (!p) {
    con::printf("FREEREPORT FAILED: no run of %lu MiB free\n", mib);
    return;
  }
  touch(p, pages);
  con::printf("FREEREPORT touched kib=%lu current_kib=%lu\n", pages * 4, current_kib());
  pvclock::spin_ns(kPhaseWaitNs);
  mm::free_pages(p, pages);
  con::printf("FREEREPORT freed reported_kib=%lu current_kib=%lu\n", mm::unbacked_page_count() * 4, current_kib());
  pvclock::spin_ns(kPhaseWaitNs);
  auto* q = static_cast<uint8_t*>(mm::alloc_pages(pages, mm::kNoZero));
  if (!q) {
    con::printf("FREEREPORT FAILED: the reported pages could not be taken back\n");
    return;
  }
  uint64_t not_zero = 0;
  for (uint64_t i = 0; i < pages; i++) not_zero += *reinterpret_cast<volatile uint64_t*>(q + (i << mm::kPageShift)) != 0;
  touch(q, pages);
  if (not_zero) con::printf("FREEREPORT reused kib=%lu current_kib=%lu zeroed=FAILED(%lu)\n", pages * 4, current_kib(), not_zero);
  else con::printf("FREEREPORT reused kib=%lu current_kib=%lu zeroed=ok\n", pages * 4, current_kib());
  pvclock::spin_ns(kPhaseWaitNs);
  mm::free_pages(q, pages);
  const auto r = balloon::report_stats();
  con::printf("FREEREPORT done reported_kib=%lu repopulated_kib=%lu refused=%lu\n", r.reported * 4,
              r.repopulated * 4, r.refused);
}

void run_touchfree(uint64_t mib) {
  const uint64_t pages = mib * 256;
  auto* p = static_cast<uint8_t*>(mm::alloc_pages(pages, mm::kNoZero));
  if (!p) {
    con::printf("TOUCHFREE FAILED: no run of %lu MiB free\n", mib);
    return;
  }
  touch(p, pages);
  mm::free_pages(p, pages);
  con::printf("TOUCHFREE done kib=%lu reported_kib=%lu current_kib=%lu\n", pages * 4, mm::unbacked_page_count() * 4,
              current_kib());
}
