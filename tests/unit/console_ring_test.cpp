// ConsoleRing: guest output to a pipe, host input into the ring.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include <xen/console.h>

#include "console/console_ring.h"
#include "memory/guest_memory.h"

namespace pv {
namespace {

namespace C = xen::console;
constexpr uint64_t kGfn = 3;

class ConsoleRingTest : public ::testing::Test {
 protected:
  ConsoleRingTest() {
    if (::pipe2(fds_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe2");
    std::memset(mem.page(kGfn), 0xee, 4096);  // the constructor must clear this
    sink_ = std::make_unique<ConsoleSink>(fds_[1]);
    ring_obj = std::make_unique<ConsoleRing>(mem, kGfn, *sink_);
    ring = reinterpret_cast<C::interface*>(mem.page(kGfn));
    ring_obj->set_notify([this] { notifies++; });
  }
  ~ConsoleRingTest() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }

  // What the guest does to print.
  void guest_write(const std::string& s) {
    for (char c : s) ring->out[ring->out_prod++ & (C::kOutSize - 1)] = c;
  }
  std::string drain_pipe() {
    std::string out;
    char buf[8192];
    for (;;) {
      const ssize_t n = ::read(fds_[0], buf, sizeof(buf));
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // What the guest does to read input.
  std::string guest_read() {
    std::string s;
    while (ring->in_cons != ring->in_prod) s += ring->in[ring->in_cons++ & (C::kInSize - 1)];
    return s;
  }

  GuestMemory mem{64 * 1024};
  int fds_[2] = {-1, -1};
  std::unique_ptr<ConsoleSink> sink_;
  std::unique_ptr<ConsoleRing> ring_obj;
  C::interface* ring = nullptr;
  int notifies = 0;
};

TEST_F(ConsoleRingTest, ConstructorClearsThePage) {
  EXPECT_EQ(ring->out_prod, 0u);
  EXPECT_EQ(ring->out_cons, 0u);
  EXPECT_EQ(ring->in_prod, 0u);
  EXPECT_EQ(ring->in_cons, 0u);
  EXPECT_EQ(ring->out[0], 0);
  EXPECT_EQ(mem.page(kGfn)[4095], 0);
  EXPECT_EQ(ring_obj->gfn(), kGfn);
}

TEST_F(ConsoleRingTest, GuestOutputReachesFdInOrder) {
  guest_write("hello, ");
  guest_write("world\n");
  ring_obj->on_guest_notify();
  EXPECT_EQ(drain_pipe(), "hello, world\n");
  EXPECT_EQ(ring->out_cons, 13u);
  EXPECT_EQ(ring->out_cons, ring->out_prod);
  EXPECT_EQ(ring_obj->bytes_out(), 13u);
  EXPECT_EQ(notifies, 1);
  // Nothing new: nothing written, no notification.
  ring_obj->on_guest_notify();
  EXPECT_EQ(drain_pipe(), "");
  EXPECT_EQ(notifies, 1);
}

TEST_F(ConsoleRingTest, OutputWrapsAroundTheRing) {
  ring->out_cons = ring->out_prod = C::kOutSize - 5;
  const std::string msg = "0123456789abcdefghij";
  guest_write(msg);
  ring_obj->on_guest_notify();
  EXPECT_EQ(drain_pipe(), msg);
  EXPECT_EQ(ring->out_cons, C::kOutSize - 5 + msg.size());
}

TEST_F(ConsoleRingTest, IndicesWrapAt32Bits) {
  ring->out_cons = ring->out_prod = 0xfffffff8u;
  const std::string msg = "sixteen bytes!!\n";
  guest_write(msg);
  EXPECT_EQ(ring->out_prod, 8u);
  ring_obj->on_guest_notify();
  EXPECT_EQ(drain_pipe(), msg);
  EXPECT_EQ(ring->out_cons, 8u);
}

TEST_F(ConsoleRingTest, AFullRingIsDrained) {
  std::string msg;
  for (uint32_t i = 0; i < C::kOutSize; i++) msg += static_cast<char>('a' + i % 26);
  ring->out_cons = ring->out_prod = 100;
  guest_write(msg);
  ring_obj->on_guest_notify();
  EXPECT_EQ(drain_pipe(), msg);
  EXPECT_EQ(ring->out_cons, 100 + C::kOutSize);
  EXPECT_EQ(ring_obj->bytes_out(), C::kOutSize);
}

TEST_F(ConsoleRingTest, ProducerTooFarAheadIsResynced) {
  ring->out_cons = 10;
  ring->out_prod = 10 + C::kOutSize + 1;
  ring_obj->on_guest_notify();
  EXPECT_EQ(ring->out_cons, ring->out_prod);
  EXPECT_EQ(drain_pipe(), "");
  EXPECT_EQ(ring_obj->bytes_out(), 0u);
  EXPECT_EQ(notifies, 0);
  // A producer behind the consumer is broken the same way.
  ring->out_cons = 500;
  ring->out_prod = 400;
  ring_obj->on_guest_notify();
  EXPECT_EQ(ring->out_cons, 400u);
  EXPECT_EQ(drain_pipe(), "");
  // Afterwards the ring works again.
  guest_write("ok\n");
  ring_obj->on_guest_notify();
  EXPECT_EQ(drain_pipe(), "ok\n");
  EXPECT_EQ(ring_obj->bytes_out(), 3u);
}

TEST_F(ConsoleRingTest, PushInputRespectsRingSpaceAndNotifies) {
  std::string a(1000, 'x');
  for (size_t i = 0; i < a.size(); i++) a[i] = static_cast<char>('A' + i % 23);
  EXPECT_EQ(ring_obj->push_input(a), 1000u);
  EXPECT_EQ(notifies, 1);
  EXPECT_EQ(ring->in_prod, 1000u);
  EXPECT_EQ(ring_obj->push_input(std::string(100, 'y')), C::kInSize - 1000);
  EXPECT_EQ(notifies, 2);
  EXPECT_EQ(ring->in_prod, C::kInSize);
  EXPECT_EQ(ring_obj->push_input("z"), 0u);  // full
  EXPECT_EQ(notifies, 2);
  EXPECT_EQ(ring_obj->push_input(""), 0u);
  EXPECT_EQ(notifies, 2);

  EXPECT_EQ(guest_read(), a + std::string(C::kInSize - 1000, 'y'));
  // Space again; this input wraps around the ring.
  EXPECT_EQ(ring_obj->push_input("wrap-around"), 11u);
  EXPECT_EQ(notifies, 3);
  EXPECT_EQ(guest_read(), "wrap-around");
}

TEST_F(ConsoleRingTest, PushInputLeavesABrokenRingAlone) {
  ring->in_cons = 0;
  ring->in_prod = C::kInSize + 1;
  EXPECT_EQ(ring_obj->push_input("abc"), 0u);
  EXPECT_EQ(ring->in_prod, C::kInSize + 1);
  EXPECT_EQ(notifies, 0);
}

TEST_F(ConsoleRingTest, WorksWithoutANotifier) {
  ConsoleRing plain(mem, kGfn + 1, *sink_);
  auto* r = reinterpret_cast<C::interface*>(mem.page(kGfn + 1));
  r->out[0] = 'q';
  r->out_prod = 1;
  plain.on_guest_notify();
  EXPECT_EQ(drain_pipe(), "q");
  EXPECT_EQ(plain.push_input("in"), 2u);
  EXPECT_EQ(r->in[0], 'i');
}

TEST(WriteAll, WritesEverything) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string big(40000, 'k');
  write_all(fds[1], big);
  ::close(fds[1]);
  std::string got;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) got.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  EXPECT_EQ(got, big);
}

}  // namespace
}  // namespace pv
