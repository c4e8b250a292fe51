// Host-side helper of bench_net.py (compiled by it into its /tmp directory;
// not part of the CMake build).
//
//   net_bench_helper sink PORT IDLE_MS MAX_S
//       Counts UDP datagrams to 0.0.0.0:PORT (recvmmsg, 64 at a time) from
//       the first one until none came for IDLE_MS (or MAX_S passed). Prints
//       "SINK ready", then "SINK packets=N bytes=B span_ns=T" (bytes: UDP
//       payload; span: first to last datagram).
//   net_bench_helper tapwrite TAP BRIDGE DST_PORT PAYLOAD SECONDS
//       The reference for a guest's udpsend: creates tap TAP (IFF_TAP |
//       IFF_NO_PI), makes it a port of BRIDGE and up, then writes for
//       SECONDS the same frames the guest sends (Ethernet to the bridge's
//       MAC, IPv4 10.0.20.11 -> the bridge's address, UDP checksum 0,
//       PAYLOAD bytes), one write() per frame. Prints "TAPWRITE packets=N
//       ns=T".
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "net_bench_helper: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

int sink(int port, int idle_ms, int max_s) {
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket");
  int big = 32 << 20;
  ::setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  std::printf("SINK ready\n");
  std::fflush(stdout);
  constexpr int kBatch = 64;
  static char bufs[kBatch][2048];
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  uint64_t packets = 0, bytes = 0, first = 0, last = 0;
  const uint64_t end = now_ns() + uint64_t(max_s) * 1000000000ull;
  for (;;) {
    const uint64_t t = now_ns();
    if (t >= end || (packets && t - last > uint64_t(idle_ms) * 1000000ull)) break;
    pollfd p{s, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    for (int i = 0; i < kBatch; i++) {
      iov[i] = {bufs[i], sizeof bufs[i]};
      std::memset(&msgs[i], 0, sizeof msgs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::recvmmsg(s, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) continue;
    const uint64_t at = now_ns();
    if (!packets) first = at;
    last = at;
    packets += uint64_t(n);
    for (int i = 0; i < n; i++) bytes += msgs[i].msg_len;
  }
  std::printf("SINK packets=%llu bytes=%llu span_ns=%llu\n", (unsigned long long)packets, (unsigned long long)bytes,
              (unsigned long long)(last - first));
  return 0;
}

uint16_t ip_csum(const uint8_t* p, size_t n) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

int tapwrite(const char* tap, const char* bridge, int dport, int payload, double seconds) {
  const int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun");
  ifreq r{};
  std::strncpy(r.ifr_name, tap, IFNAMSIZ - 1);
  r.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &r) != 0) die("TUNSETIFF");
  const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  // The bridge's MAC and IPv4 address: where the frames go.
  ifreq b{};
  std::strncpy(b.ifr_name, bridge, IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFHWADDR, &b) != 0) die("SIOCGIFHWADDR(bridge)");
  uint8_t dst_mac[6];
  std::memcpy(dst_mac, b.ifr_hwaddr.sa_data, 6);
  if (::ioctl(s, SIOCGIFADDR, &b) != 0) die("SIOCGIFADDR(bridge)");
  const uint32_t dst_ip = reinterpret_cast<sockaddr_in*>(&b.ifr_addr)->sin_addr.s_addr;
  // Port of the bridge, up.
  ifreq port{};
  std::strncpy(port.ifr_name, bridge, IFNAMSIZ - 1);
  port.ifr_ifindex = int(::if_nametoindex(tap));
  if (::ioctl(s, SIOCBRADDIF, &port) != 0) die("SIOCBRADDIF");
  ifreq up{};
  std::strncpy(up.ifr_name, tap, IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &up) != 0) die("SIOCGIFFLAGS");
  up.ifr_flags |= IFF_UP;
  if (::ioctl(s, SIOCSIFFLAGS, &up) != 0) die("SIOCSIFFLAGS");
  ::usleep(200000);

  std::vector<uint8_t> f(14 + 20 + 8 + size_t(payload), 0);
  std::memcpy(f.data(), dst_mac, 6);
  const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x20, 0x11};
  std::memcpy(f.data() + 6, src_mac, 6);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  const size_t iplen = 20 + 8 + size_t(payload);
  ip[0] = 0x45, ip[2] = uint8_t(iplen >> 8), ip[3] = uint8_t(iplen), ip[8] = 64, ip[9] = 17;
  const uint32_t src_ip = htonl(0x0a00140b);  // 10.0.20.11
  std::memcpy(ip + 12, &src_ip, 4);
  std::memcpy(ip + 16, &dst_ip, 4);
  const uint16_t c = ip_csum(ip, 20);
  ip[10] = uint8_t(c >> 8), ip[11] = uint8_t(c);
  uint8_t* udp = ip + 20;
  udp[0] = 0x9c, udp[1] = 0x49;  // 40009, as the guest
  udp[2] = uint8_t(dport >> 8), udp[3] = uint8_t(dport);
  udp[4] = uint8_t((8 + payload) >> 8), udp[5] = uint8_t(8 + payload);
  if (payload >= 16) std::memcpy(udp + 8 + 8, "pvguest!", 8);

  const uint64_t t0 = now_ns(), end = t0 + uint64_t(seconds * 1e9);
  uint64_t n = 0, t = t0;
  while (t < end) {
    for (int i = 0; i < 64; i++) {
      std::memcpy(udp + 8, &n, payload >= 8 ? 8 : 0);
      if (::write(fd, f.data(), f.size()) == ssize_t(f.size())) n++;
    }
    t = now_ns();
  }
  std::printf("TAPWRITE packets=%llu ns=%llu\n", (unsigned long long)n, (unsigned long long)(t - t0));
  std::fflush(stdout);
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  // Extra arguments are ignored (the benchmark adds its directory, so its
  // cleanup finds us by command line).
  if (mode == "sink" && argc >= 5) return sink(std::atoi(argv[2]), std::atoi(argv[3]), std::atoi(argv[4]));
  if (mode == "tapwrite" && argc >= 7)
    return tapwrite(argv[2], argv[3], std::atoi(argv[4]), std::atoi(argv[5]), std::atof(argv[6]));
  std::fprintf(stderr, "usage: net_bench_helper sink PORT IDLE_MS MAX_S | tapwrite TAP BRIDGE DST_PORT PAYLOAD SECONDS\n");
  return 2;
}
