// pvguest: the `hotplug` mode. Watches device/vbd and device/vif in our
// xenstore directory and follows devices that appear and go, as Linux's
// xenbus_probe_frontend does with its watch on "device":
//
//   a new vbd    blkfront::attach() (the usual handshake), then a check:
//                a sector in the middle of the disk is read, overwritten
//                with a pattern, read back, compared and restored (only
//                read on a read-only disk)
//   a new vif    netfront::start() (one vif at a time, netfront has one
//                device), then a check: the link is up; with
//                hotplug-ping=IP also DHCP and a ping of IP
//   Closing      (a detach: the back-end goes offline) the front-end
//                closes, as blkfront/netfront do
//   gone         (the toolstack removed the directory) what the device
//                held is freed and its slot reused
//
// One line per event:  HOTPLUG vbd 51728 connected / verify ok / released
// / removed; HOTPLUG vif 1 connected / verify ok / released / removed.
// control/shutdown is obeyed meanwhile; the mode never returns.
#include "blkfront.h"
#include "console.h"
#include "control.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "modes.h"
#include "net_stack.h"
#include "net_util.h"
#include "netfront.h"
#include "pvtime.h"
#include "xenbus.h"

namespace {
constexpr uint64_t kSecond = 1000000000ull;
constexpr uint64_t kTickNs = 200000000ull;  // look at the devices' states this often
constexpr unsigned kMaxSeen = 16;

struct Vbd {
  uint32_t handle;
  blkfront::Device* dev;
  bool released;  // "released" printed
};
Vbd vbds[blkfront::kMaxDevices];
unsigned nvbds = 0;

uint32_t vifs_seen[kMaxSeen];  // vifs already taken (or refused): not tried again
unsigned nvifs_seen = 0;
bool vif_released = false;
bool net_ready = false;
uint32_t ping_ip = 0;
volatile bool rescan = true;

void on_device_change(const char*, const char*, void*) { rescan = true; }

// The numeric children of `dir` (device/vbd, device/vif); false when it
// cannot be listed (absent: none).
unsigned list_ids(const char* dir, uint32_t* ids, unsigned max) {
  static char names[1024];
  unsigned n = 0, out = 0;
  if (xenbus::directory(dir, names, sizeof names, &n) != 0) return 0;
  const char* name = names;
  for (unsigned i = 0; i < n && out < max; i++, name += strlen(name) + 1) {
    uint64_t id;
    if (lib::parse_u64(name, strlen(name), id) && id <= 0xffff) ids[out++] = uint32_t(id);
  }
  return out;
}

bool listed(const uint32_t* ids, unsigned n, uint32_t id) {
  for (unsigned i = 0; i < n; i++)
    if (ids[i] == id) return true;
  return false;
}

void verify_vbd(blkfront::Device* d, uint32_t handle) {
  const blkfront::Info& in = blkfront::info(d);
  auto* saved = static_cast<uint8_t*>(mm::alloc_page());
  auto* pattern = static_cast<uint8_t*>(mm::alloc_page());
  auto* back = static_cast<uint8_t*>(mm::alloc_page());
  const uint32_t bytes = in.sector_size;
  const uint64_t step = bytes / 512;
  const uint64_t sector = in.sectors >= 2 * step ? (in.sectors / 2) / step * step : 0;
  const char* failed = nullptr;
  blkfront::Request r;
  auto io = [&](uint8_t op, uint8_t* buf) {
    r = blkfront::Request{};
    r.op = op;
    r.sector = sector;
    r.buf = buf;
    r.bytes = bytes;
    return blkfront::sync(d, &r, 10 * kSecond) == 0;
  };
  if (!saved || !pattern || !back || bytes > mm::kPageSize) failed = "no memory for the check";
  else if (!io(blkfront::kRead, saved)) failed = "reading it failed";
  else if (!in.readonly) {
    for (uint32_t i = 0; i < bytes; i++) pattern[i] = uint8_t((handle + i * 7 + 0x5a) & 0xff);
    if (!io(blkfront::kWrite, pattern)) failed = "writing the pattern failed";
    else if (!io(blkfront::kRead, back)) failed = "reading the pattern back failed";
    else if (memcmp(pattern, back, bytes) != 0) failed = "the pattern read back differs";
    else if (!io(blkfront::kWrite, saved)) failed = "restoring the sector failed";
  }
  if (failed) con::printf("HOTPLUG vbd %u verify FAILED: sector %lu: %s\n", handle, sector, failed);
  else if (in.readonly) con::printf("HOTPLUG vbd %u verify ok (read-only: sector %lu read)\n", handle, sector);
  else con::printf("HOTPLUG vbd %u verify ok (sector %lu: pattern written, read back, restored)\n", handle, sector);
  if (saved) mm::free_page(saved);
  if (pattern) mm::free_page(pattern);
  if (back) mm::free_page(back);
}

void scan_vbds() {
  uint32_t ids[kMaxSeen];
  const unsigned n = list_ids("device/vbd", ids, kMaxSeen);
  // Gone first: their slots serve the new ones.
  for (unsigned i = 0; i < nvbds;) {
    if (listed(ids, n, vbds[i].handle)) {
      i++;
      continue;
    }
    if (vbds[i].dev && !vbds[i].released && blkfront::closed(vbds[i].dev))
      con::printf("HOTPLUG vbd %u released\n", vbds[i].handle);
    if (vbds[i].dev) blkfront::release(vbds[i].dev);
    con::printf("HOTPLUG vbd %u removed\n", vbds[i].handle);
    vbds[i] = vbds[--nvbds];
  }
  for (unsigned i = 0; i < n; i++) {
    bool known = false;
    for (unsigned j = 0; j < nvbds; j++) known |= vbds[j].handle == ids[i];
    if (known) continue;
    if (nvbds == blkfront::kMaxDevices) {
      con::printf("HOTPLUG vbd %u ignored: %u devices already\n", ids[i], nvbds);
      continue;
    }
    Vbd& v = vbds[nvbds++];
    v = Vbd{ids[i], blkfront::attach(ids[i]), false};
    if (!v.dev || !blkfront::connected(v.dev)) {
      con::printf("HOTPLUG vbd %u not connected\n", v.handle);
      continue;
    }
    con::printf("HOTPLUG vbd %u connected\n", v.handle);
    verify_vbd(v.dev, v.handle);
  }
}

void verify_vif(uint32_t id) {
  if (!netfront::connected()) {
    con::printf("HOTPLUG vif %u verify FAILED: the link is down\n", id);
    return;
  }
  char m[18];
  if (!ping_ip) {
    con::printf("HOTPLUG vif %u verify ok (link up, mac %s)\n", id, net::mac_str(netfront::mac(), m));
    return;
  }
  if (!net_ready) net::init();
  net_ready = true;
  if (!net::dhcp_configure(30 * kSecond)) {
    con::printf("HOTPLUG vif %u verify FAILED: no DHCP lease\n", id);
    return;
  }
  net::announce();
  char a[16];
  uint64_t rtt = 0;
  for (uint16_t seq = 1; seq <= 5; seq++) {
    if (net::ping_once(ping_ip, seq, 56, 2 * kSecond, rtt, true)) {
      con::printf("HOTPLUG vif %u verify ok (mac %s, ping %s answered in %lu us)\n", id,
                  net::mac_str(netfront::mac(), m), net::ip_str(ping_ip, a), rtt / 1000);
      return;
    }
  }
  con::printf("HOTPLUG vif %u verify FAILED: no answer from %s\n", id, net::ip_str(ping_ip, a));
}

void scan_vifs() {
  uint32_t ids[kMaxSeen];
  const unsigned n = list_ids("device/vif", ids, kMaxSeen);
  if (netfront::have_device() && !listed(ids, n, netfront::device_number())) {
    const unsigned id = netfront::device_number();
    if (!vif_released && netfront::closed()) con::printf("HOTPLUG vif %u released\n", id);
    vif_released = true;
    netfront::stop();
    con::printf("HOTPLUG vif %u removed\n", id);
  }
  // Forget what went, so a vif attached again with the same devid is taken.
  for (unsigned i = 0; i < nvifs_seen;)
    if (!listed(ids, n, vifs_seen[i])) vifs_seen[i] = vifs_seen[--nvifs_seen];
    else i++;
  for (unsigned i = 0; i < n; i++) {
    if (listed(vifs_seen, nvifs_seen, ids[i]) || nvifs_seen == kMaxSeen) continue;
    vifs_seen[nvifs_seen++] = ids[i];
    if (netfront::have_device()) {
      con::printf("HOTPLUG vif %u ignored: vif %u is in use (netfront has one device)\n", ids[i],
                  netfront::device_number());
      continue;
    }
    vif_released = false;
    if (!netfront::start(int(ids[i]))) {
      con::printf("HOTPLUG vif %u not connected\n", ids[i]);
      continue;
    }
    con::printf("HOTPLUG vif %u connected\n", ids[i]);
    verify_vif(ids[i]);
  }
}

// Devices a detach has closed (the back-end went Closing, we followed).
void report_closed() {
  for (unsigned i = 0; i < nvbds; i++) {
    Vbd& v = vbds[i];
    if (v.dev && !v.released && blkfront::closed(v.dev)) {
      v.released = true;
      con::printf("HOTPLUG vbd %u released\n", v.handle);
    }
  }
  if (netfront::have_device() && !vif_released && netfront::closed()) {
    vif_released = true;
    con::printf("HOTPLUG vif %u released\n", netfront::device_number());
  }
}

}  // namespace

bool parse_hotplug_option(const char* key, uint64_t klen, const char* val, uint64_t vlen, bool& hotplug) {
  auto is = [&](const char* k) { return strlen(k) == klen && memcmp(key, k, klen) == 0; };
  if (is("hotplug") && vlen == 0) return hotplug = true, true;
  if (is("hotplug-ping")) {
    hotplug = true;
    if (!net::parse_ip(val, size_t(vlen), ping_ip)) con::printf("HOTPLUG bad hotplug-ping= address\n");
    return true;
  }
  return false;
}

[[noreturn]] void run_hotplug() {
  if (!xenbus::init()) {
    con::printf("HOTPLUG no xenstore: nothing to watch\n");
    run_idle();
  }
  control::start();
  int rc = xenbus::watch("device/vbd", "hotplug/vbd", on_device_change);
  if (rc == 0) rc = xenbus::watch("device/vif", "hotplug/vif", on_device_change);
  if (rc) {
    con::printf("HOTPLUG cannot watch device/: %s\n", xenbus::error_name(rc));
    run_idle();
  }
  con::printf("HOTPLUG watching device/vbd and device/vif\n");
  for (;;) {
    if (rescan) {
      rescan = false;
      scan_vbds();
      scan_vifs();
    }
    if (netfront::have_device()) netfront::poll();  // its back-end's state
    report_closed();
    const int w = xenbus::wait_events(kTickNs);
    if (w == -int(xen::XEN_EIO)) {
      con::printf("HOTPLUG xenstore ring broken: idling\n");
      run_idle();
    }
  }
}
