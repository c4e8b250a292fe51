// pvguest: the hostile balloon cases of `hostile` mode. Each reservation
// op that must be refused gets Xen's answer (xen/common/memory.c): the
// number of extents done, which stops at the first bad one, so 0 for a bad
// first extent (a header Xen cannot use returns the start extent). After
// each case the reservation must be as before, and at the end the domain
// must still run and the page used for the cases still hold data.
#include <xen/hvm.h>
#include <xen/memory.h>

#include "grant.h"
#include "hypercall.h"
#include "kernel.h"
#include "mm.h"
#include "modes.h"

namespace {
using Expect = void (*)(const char* name, bool ok, long rc, const char* what);

constexpr uint32_t kDecrease = xen::mem::op::decrease_reservation;
constexpr uint32_t kPopulate = xen::mem::op::populate_physmap;
constexpr unsigned kExtentShift = 6;  // MEMOP_EXTENT_SHIFT

xen::xen_pfn_t list[4];

long op(uint32_t cmd, uint64_t extents, uint64_t nr, uint32_t order = 0, uint16_t domid = xen::DOMID_SELF,
        uint32_t flags = 0) {
  xen::mem::memory_reservation r{extents, nr, order, flags, domid};
  return hv::memory_op(cmd, &r);
}
long op1(uint32_t cmd, uint64_t gfn, uint32_t order = 0) {
  list[0] = gfn;
  return op(cmd, uint64_t(list), 1, order);
}
long current() {
  xen::domid_t self = xen::DOMID_SELF;
  return hv::memory_op(xen::mem::op::current_reservation, &self);
}
}  // namespace

void hostile_balloon_checks(Expect expect, uint64_t past_ram_pfn) {
  const long before = current();
  // Refused outright: the reservation must not move.
  auto refused = [&](const char* name, long rc, long want = 0) {
    const long now = current();
    expect(name, rc == want && now == before, rc, rc != want ? "extents were done" : "the reservation changed");
  };
  void* page = mm::alloc_page();
  if (!page) {
    expect("balloon_page", false, -1, "no page to work with");
    return;
  }
  volatile uint64_t* word = static_cast<volatile uint64_t*>(page);
  const uint64_t gfn = mm::gfn(page);

  // Frames that are not RAM the guest holds.
  refused("balloon_decrease_past_ram", op1(kDecrease, past_ram_pfn));
  refused("balloon_decrease_gfn_2^52", op1(kDecrease, 1ull << 52));
  refused("balloon_decrease_gfn_max", op1(kDecrease, ~0ull));
  refused("balloon_populate_past_ram", op1(kPopulate, past_ram_pfn));
  refused("balloon_populate_populated_frame", op1(kPopulate, gfn));
  // Special pages: boot data, shared_info, a grant frame, the rings.
  refused("balloon_decrease_start_info", op1(kDecrease, 1));
  refused("balloon_decrease_shared_info", op1(kDecrease, uint64_t(k::shinfo) >> xen::kPageShift));
  refused("balloon_decrease_grant_frame", op1(kDecrease, grant::frame_gpfn(0)));
  xen::hvm::param_arg p{xen::DOMID_SELF, 0, xen::hvm::param::STORE_PFN, 0};
  if (hv::hvm_op(xen::hvm::op::get_param, &p) == 0) {
    refused("balloon_decrease_xenstore_ring", op1(kDecrease, p.value));
    refused("balloon_decrease_console_ring", op1(kDecrease, p.value - 1));
  }
  // An extent reaching past RAM from its last page.
  refused("balloon_decrease_extent_across_ram_end", op1(kDecrease, ((past_ram_pfn - 16) & ~511ull), 9));
  // Bad extent orders (Xen's domU limit is 9) and a foreign domain.
  refused("balloon_decrease_order_10", op1(kDecrease, gfn & ~1023ull, 10));
  refused("balloon_decrease_order_63", op1(kDecrease, 0, 63));
  refused("balloon_populate_order_10", op1(kPopulate, gfn & ~1023ull, 10));
  list[0] = gfn;
  refused("balloon_decrease_foreign_domain", op(kDecrease, uint64_t(list), 1, 0, 5));
  refused("balloon_populate_on_demand", op(kPopulate, uint64_t(list), 1, 0, xen::DOMID_SELF,
                                          xen::XENMEMF_populate_on_demand));
  // Huge counts and lists Xen cannot read.
  refused("balloon_decrease_count_2^30", op(kDecrease, uint64_t(list), 1ull << 30));
  refused("balloon_decrease_count_max", op(kDecrease, uint64_t(list), ~0ull));
  refused("balloon_decrease_list_wraps", op(kDecrease, ~0ull - 8, 4));
  refused("balloon_decrease_list_unmapped", op(kDecrease, past_ram_pfn << xen::kPageShift, 1));
  refused("balloon_decrease_header_unmapped",
          hv::hypercall2(xen::hc::memory_op, kDecrease, past_ram_pfn << xen::kPageShift));
  // A continuation start at or past the count: Xen answers the start.
  refused("balloon_decrease_start_past_count", op(kDecrease | (5u << kExtentShift), uint64_t(list), 1), 5);
  refused("balloon_increase_reservation", op(xen::mem::op::increase_reservation, uint64_t(list), 1));

  // The same frame twice: the first is given back, the second refused.
  *word = 0x1234;
  list[0] = list[1] = gfn;
  long rc = op(kDecrease, uint64_t(list), 2);
  expect("balloon_decrease_same_frame_twice", rc == 1 && current() == before - 1, rc, "not exactly one done");
  rc = op1(kDecrease, gfn);
  expect("balloon_decrease_ballooned_frame", rc == 0 && current() == before - 1, rc, "given back twice");
  rc = op1(kPopulate, gfn);
  expect("balloon_populate_back", rc == 1 && current() == before && *word == 0, rc,
         "not populated again, or not zeroed");
  *word = 0x5678;
  expect("balloon_page_usable", *word == 0x5678 && current() == before, 0, "the page or the count is off");
  mm::free_page(page);
}
