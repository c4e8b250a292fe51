// The port-I/O hypercall page and the --hypercall-transport parser.
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include <xen/xen.h>

#include "hypercall/transport.h"
#include "pv/error.h"

namespace pv {
namespace {

// Entry N is `out %eax, $0x7e; ret` (e7 7e c3): the slot's position names
// the hypercall (see port_io_hypercall_number), so no `mov $N, %eax`.
constexpr uint8_t kStub[] = {0xe7, 0x7e, 0xc3};

TEST(HypercallPage, EveryEntryIsOutRetThenUd2) {
  std::array<uint8_t, xen::kPageSize> page;
  page.fill(0xcc);
  write_port_io_hypercall_page(page.data());
  ASSERT_EQ(xen::hc::kStubSize * xen::hc::kPageEntries, xen::kPageSize);
  for (uint32_t n = 0; n < xen::hc::kPageEntries; n++) {
    const uint8_t* p = page.data() + n * xen::hc::kStubSize;
    ASSERT_EQ(0, std::memcmp(p, kStub, sizeof(kStub))) << "entry " << n;
    // From the first even offset after the stub, ud2 (0f 0b) to the end.
    for (uint32_t i = 4; i < xen::hc::kStubSize; i += 2) {
      ASSERT_EQ(p[i], 0x0f) << "entry " << n << " byte " << i;
      ASSERT_EQ(p[i + 1], 0x0b) << "entry " << n << " byte " << i + 1;
    }
    for (uint32_t i = sizeof(kStub); i < xen::hc::kStubSize; i++)
      ASSERT_NE(p[i], 0xcc) << "entry " << n << " byte " << i << " not written";
  }
  EXPECT_EQ(kHypercallPort, 0x7e);
}

TEST(HypercallPage, EntryNumberComesFromTheSlot) {
  constexpr uint64_t page = 0xffffffff81234000ull;  // any page: only the offset counts
  for (uint64_t n = 0; n < xen::hc::kPageEntries; n++) {
    const uint64_t slot = page + n * xen::hc::kStubSize;
    EXPECT_EQ(port_io_hypercall_number(slot), n);      // rip at the OUT
    EXPECT_EQ(port_io_hypercall_number(slot + 2), n);  // rip after the OUT
    EXPECT_EQ(port_io_hypercall_number(slot + 31), n);
  }
  EXPECT_EQ(port_io_hypercall_number(0x1000 + 32 * 32), xen::hc::event_channel_op);
  EXPECT_EQ(port_io_hypercall_number(0x1000 + 29 * 32 + 2), xen::hc::sched_op);
  // Whatever rip a guest uses, the number stays inside the page's range.
  for (uint64_t rip : {uint64_t{0}, uint64_t{0xfff}, ~uint64_t{0}, uint64_t{0x12345678}})
    EXPECT_LT(port_io_hypercall_number(rip), xen::hc::kPageEntries) << rip;
}

TEST(Transport, ParseAcceptsTheThreeNames) {
  EXPECT_EQ(parse_transport("auto"), TransportChoice::kAuto);
  EXPECT_EQ(parse_transport("port-io"), TransportChoice::kPortIo);
  EXPECT_EQ(parse_transport("kvm-xen"), TransportChoice::kKvmXen);
}

TEST(Transport, ParseRefusesOthers) {
  for (const char* bad : {"", "Auto", "portio", "port_io", "kvm", "kvm-xen ", " auto", "xen"}) {
    try {
      parse_transport(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const UserError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(std::string("'") + bad + "'"), std::string::npos) << msg;
      EXPECT_NE(msg.find("auto, port-io or kvm-xen"), std::string::npos) << msg;
    }
  }
}

TEST(Transport, Names) {
  EXPECT_STREQ(transport_name(Transport::kPortIo), "port-io");
  EXPECT_STREQ(transport_name(Transport::kKvmXen), "kvm-xen");
  // The names round-trip through the parser.
  EXPECT_EQ(parse_transport(transport_name(Transport::kPortIo)), TransportChoice::kPortIo);
  EXPECT_EQ(parse_transport(transport_name(Transport::kKvmXen)), TransportChoice::kKvmXen);
}

}  // namespace
}  // namespace pv
