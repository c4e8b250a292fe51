// Tiny xenstore wire-protocol client for tests/bench/bench_xenstore.py (built
// by that script into /tmp with the system compiler; not part of the build).
//
//   xs_bench_client SOCKET N WATCH_N ROUNDS VALUE_BYTES
//
// Speaks the 16-byte-header protocol (hv/abi/xen/xs_wire.h) directly to a
// xenstored Unix socket. Each round, interleaved:
//   echo   N round trips of a message the size of the WRITE request (header +
//          "path\0value") to an echo thread over a socketpair in this process
//   read   N sequential XS_READ of one node
//   write  N sequential XS_WRITE of that node
//   watch  WATCH_N times: connection B writes the watched node, connection A
//          waits for the XS_WATCH_EVENT (time from B's send to A's receipt)
// and prints one line per round and kind: `round R KIND ns_per_op=X
// median_ns=Y`. Every loop is bounded; every blocking read has a 10 s
// timeout (SO_RCVTIMEO), after which the client exits 1.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <xen/xs_wire.h>

namespace xs = xen::xenstore;
namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "xs_bench_client: %s: %s\n", what.c_str(), errno ? std::strerror(errno) : "protocol error");
  std::exit(1);
}

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

void set_timeout(int fd) {
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool read_full(int fd, void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

bool write_full(int fd, const void* buf, size_t n) {
  auto* p = static_cast<const char*>(buf);
  while (n) {
    ssize_t r = ::write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= size_t(r);
  }
  return true;
}

std::string frame(uint32_t type, uint32_t req_id, const std::string& payload) {
  xs::xsd_sockmsg h{type, req_id, 0, uint32_t(payload.size())};
  std::string m(reinterpret_cast<const char*>(&h), sizeof h);
  return m + payload;
}

struct Msg {
  xs::xsd_sockmsg h;
  std::string payload;
};

Msg recv_msg(int fd, const char* what) {
  Msg m;
  if (!read_full(fd, &m.h, sizeof m.h)) die(std::string("reading ") + what);
  if (m.h.len > xs::XENSTORE_PAYLOAD_MAX) die(std::string("oversized reply to ") + what);
  m.payload.resize(m.h.len);
  if (m.h.len && !read_full(fd, m.payload.data(), m.h.len)) die(std::string("reading ") + what);
  return m;
}

int connect_xs(const char* path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof a.sun_path) die("socket path too long");
  std::strcpy(a.sun_path, path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) die(std::string("connect ") + path);
  set_timeout(fd);
  return fd;
}

// One request, its reply (which must be of the same type, not XS_ERROR).
Msg call(int fd, uint32_t type, uint32_t req_id, const std::string& payload, const char* what) {
  const std::string m = frame(type, req_id, payload);
  if (!write_full(fd, m.data(), m.size())) die(std::string("sending ") + what);
  Msg r = recv_msg(fd, what);
  if (r.h.type != type || r.h.req_id != req_id) {
    errno = 0;
    die(std::string(what) + ": reply type " + std::to_string(r.h.type) + " payload " + r.payload.c_str());
  }
  return r;
}

void echo_thread(int fd) {
  std::vector<char> buf(sizeof(xs::xsd_sockmsg) + xs::XENSTORE_PAYLOAD_MAX);
  for (;;) {
    xs::xsd_sockmsg h;
    if (!read_full(fd, &h, sizeof h)) return;
    if (h.len > xs::XENSTORE_PAYLOAD_MAX || (h.len && !read_full(fd, buf.data() + sizeof h, h.len))) return;
    std::memcpy(buf.data(), &h, sizeof h);
    if (!write_full(fd, buf.data(), sizeof h + h.len)) return;
  }
}

struct Stats {
  double mean_ns, median_ns;
};

Stats stats(std::vector<uint64_t>& v, uint64_t total) {
  std::sort(v.begin(), v.end());
  return {double(total) / double(v.size()), double(v[v.size() / 2])};
}

void report(int round, const char* kind, Stats s) {
  std::printf("round %d %s ns_per_op=%.0f median_ns=%.0f\n", round, kind, s.mean_ns, s.median_ns);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: xs_bench_client SOCKET N WATCH_N ROUNDS VALUE_BYTES\n");
    return 2;
  }
  const char* sock = argv[1];
  const long n = std::strtol(argv[2], nullptr, 10), wn = std::strtol(argv[3], nullptr, 10),
             rounds = std::strtol(argv[4], nullptr, 10), vbytes = std::strtol(argv[5], nullptr, 10);
  if (n < 1 || n > 10000000 || wn < 1 || wn > 1000000 || rounds < 1 || rounds > 1000 || vbytes < 1 || vbytes > 2000) {
    std::fprintf(stderr, "xs_bench_client: argument out of range\n");
    return 2;
  }

  const std::string node = "/bench/xs/node", wnode = "/bench/xs/watched", token = "benchtok";
  const std::string value(size_t(vbytes), 'v');
  const std::string write_payload = node + '\0' + value;  // XS_WRITE: path NUL value (no trailing NUL)
  const std::string read_payload = node + '\0';

  // Reference: echo of a message the size of the WRITE request.
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) die("socketpair");
  set_timeout(sp[0]);
  std::thread echo(echo_thread, sp[1]);

  int c = connect_xs(sock), a = connect_xs(sock), bw = connect_xs(sock);
  uint32_t rid = 1;
  call(c, xs::msg::WRITE, rid++, write_payload, "initial WRITE");
  call(c, xs::msg::WRITE, rid++, wnode + '\0' + "0", "initial WRITE of watched node");
  {
    const std::string p = wnode + '\0' + token + '\0';
    call(a, xs::msg::WATCH, rid++, p, "WATCH");
    Msg ev = recv_msg(a, "initial watch event");  // fired once straight away
    if (ev.h.type != xs::msg::WATCH_EVENT) die("expected the initial WATCH_EVENT");
  }

  std::vector<uint64_t> lat;
  lat.reserve(size_t(std::max(n, wn)));
  for (int r = 0; r < rounds; ++r) {
    // echo
    {
      lat.clear();
      const std::string m = frame(xs::msg::WRITE, 0, write_payload);
      std::string back(m.size(), '\0');
      const uint64_t t0 = now_ns();
      for (long i = 0; i < n; ++i) {
        const uint64_t s = now_ns();
        if (!write_full(sp[0], m.data(), m.size()) || !read_full(sp[0], back.data(), back.size())) die("echo");
        lat.push_back(now_ns() - s);
      }
      Stats st = stats(lat, now_ns() - t0);
      report(r, "echo", st);
    }
    // read
    {
      lat.clear();
      const uint64_t t0 = now_ns();
      for (long i = 0; i < n; ++i) {
        const uint64_t s = now_ns();
        Msg m = call(c, xs::msg::READ, rid++, read_payload, "READ");
        lat.push_back(now_ns() - s);
        if (m.payload.size() != value.size()) die("READ returned a value of the wrong size");
      }
      report(r, "read", stats(lat, now_ns() - t0));
    }
    // write
    {
      lat.clear();
      const uint64_t t0 = now_ns();
      for (long i = 0; i < n; ++i) {
        const uint64_t s = now_ns();
        call(c, xs::msg::WRITE, rid++, write_payload, "WRITE");
        lat.push_back(now_ns() - s);
      }
      report(r, "write", stats(lat, now_ns() - t0));
    }
    // watch: B writes, A waits for the event; then B collects its reply.
    {
      lat.clear();
      const uint64_t t0 = now_ns();
      for (long i = 0; i < wn; ++i) {
        const std::string m = frame(xs::msg::WRITE, rid, wnode + '\0' + std::to_string(i));
        const uint64_t s = now_ns();
        if (!write_full(bw, m.data(), m.size())) die("sending watched WRITE");
        Msg ev = recv_msg(a, "WATCH_EVENT");
        const uint64_t e = now_ns();
        if (ev.h.type != xs::msg::WATCH_EVENT) die("expected WATCH_EVENT, got type " + std::to_string(ev.h.type));
        if (ev.payload != wnode + '\0' + token + '\0') die("unexpected WATCH_EVENT payload");
        lat.push_back(e - s);
        Msg rep = recv_msg(bw, "watched WRITE reply");
        if (rep.h.type != xs::msg::WRITE || rep.h.req_id != rid) die("watched WRITE failed");
        ++rid;
      }
      report(r, "watch", stats(lat, now_ns() - t0));
    }
  }

  call(c, xs::msg::RM, rid++, std::string("/bench") + '\0', "RM /bench");
  ::shutdown(sp[0], SHUT_RDWR);
  echo.join();
  ::close(sp[0]);
  ::close(sp[1]);
  ::close(c);
  ::close(a);
  ::close(bw);
  return 0;
}
