#!/usr/bin/env python3
"""Benchmark: network cards (netback in pv-backd + the guest's netfront).

Everything runs in a network namespace the benchmark creates (removed at the
end, also on error): pvd with the real pv-hv and pv-backd, a bridge with the
host address 10.0.20.1/24 that the guests' vifs join (bridge=, so no
nftables rules are in the way), and a UDP sink on the host.

  UDP, guest -> host: the guest's `udpsend=10.0.20.1:PORT,size=S,duration=D`
    (the same prebuilt frame again and again, UDP checksum 0) to the host
    sink, 64 B and 1472 B payloads; figure: what the sink received (packets/s
    and payload Mbit/s between its first and last datagram).
  Reference, same run: a host process writing the same frames (one write()
    per frame) to a tap that is a port of the same bridge, to the same sink.
  Ping: the guest's `ping=10.0.20.1` (its own pvclock timing) and the real
    `ping` from the host to the guest, against the real `ping` between two
    namespaces over a veth pair.

Needs root (namespaces, taps) and /dev/kvm. The helper
tests/bench/net_bench_helper.cpp is compiled into the benchmark's /tmp
directory with the system C++ compiler (--cxx, $CXX).
"""
import argparse
import atexit
import ctypes
import os
import re
import shutil
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--rounds", type=int, default=3, help="guest boots per payload size (interleaved with the reference)")
ap.add_argument("--duration", type=float, default=3.0, help="seconds of sending per measurement")
ap.add_argument("--pings", type=int, default=20, help="echo requests per ping measurement")
ap.add_argument("--cxx", default=os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or "c++")
a = ap.parse_args()
b.need_built()
if os.geteuid() != 0:
    sys.exit("bench_net: needs root (network namespaces, tap devices)")
PV_BACKD = os.path.join(b.BUILD, "bin", "pv-backd")
for f in (b.PVD, b.PVCTL, PV_BACKD):
    if not os.path.exists(f):
        sys.exit(f"missing {f}: build first")

tmp = b.make_tmpdir("pv-bench-net.")
os.chmod(tmp, 0o755)
tag = f"pvbench-{os.getpid()}"
NS, NS_A, NS_B = tag + "-host", tag + "-va", tag + "-vb"
namespaces = []


def sh(*argv, check=True, timeout=30):
    r = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


def cleanup():
    b.kill_procs_naming(tmp)  # pvd, pv-hv, pv-backd, helpers
    for ns in reversed(namespaces):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
    namespaces.clear()


atexit.register(cleanup)  # runs before benchlib's own cleanup (last registered, first run)

for ns in (NS, NS_A, NS_B):
    sh("ip", "netns", "add", ns)
    namespaces.append(ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")

# This process joins the host namespace: pvd, the helpers and ping started
# from here run in it.
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(f"/run/netns/{NS}", os.O_RDONLY)
if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
    sys.exit(f"setns: {os.strerror(ctypes.get_errno())}")
os.close(fd)
sh("ip", "link", "add", "benchbr", "type", "bridge")
# A fixed bridge MAC: it must not change when ports join (the tap writer
# addresses its frames to it).
sh("ip", "link", "set", "benchbr", "address", "02:00:00:00:20:01")
sh("ip", "addr", "add", "10.0.20.1/24", "dev", "benchbr")
sh("ip", "link", "set", "benchbr", "up")
# The reference veth pair between two other namespaces.
sh("ip", "-n", NS_A, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", NS_B)
sh("ip", "-n", NS_A, "addr", "add", "10.0.21.1/24", "dev", "va")
sh("ip", "-n", NS_B, "addr", "add", "10.0.21.2/24", "dev", "vb")
sh("ip", "-n", NS_A, "link", "set", "va", "up")
sh("ip", "-n", NS_B, "link", "set", "vb", "up")

helper = os.path.join(tmp, "net_bench_helper")
cc = subprocess.run([a.cxx, "-O2", "-std=c++20", "-o", helper, os.path.join(os.path.dirname(__file__), "net_bench_helper.cpp")],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
if cc.returncode != 0:
    sys.exit(f"bench_net: cannot compile the helper:\n{cc.stdout}")

state, admin, xs = os.path.join(tmp, "state"), os.path.join(tmp, "pvd.sock"), os.path.join(tmp, "xenstored.sock")
pvd_log = open(os.path.join(tmp, "pvd.log"), "wb")
b.spawn([b.PVD, "--state-dir", state, "--socket", admin, "--xenstore-socket", xs, "--pv-hv", b.PV_HV,
         "--pv-backd", PV_BACKD], stdout=pvd_log, stderr=subprocess.STDOUT)
pvd_log.close()
deadline = time.monotonic() + 20
while subprocess.run([b.PVCTL, "--socket", admin, "list"], stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL).returncode != 0:
    if time.monotonic() > deadline:
        sys.exit("bench_net: pvd does not answer: " + open(os.path.join(tmp, "pvd.log")).read()[-400:])
    time.sleep(0.05)


def pvctl(*args):
    return sh(b.PVCTL, "--socket", admin, *args)


def console(domid):
    try:
        return open(os.path.join(state, "domains", f"{domid}.console.log"), errors="replace").read()
    except OSError:
        return ""


def wait_console(domid, pattern, timeout=60):
    rx = re.compile(pattern)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        m = rx.search(console(domid))
        if m:
            return m
        time.sleep(0.05)
    raise TimeoutError(f"domain {domid}: no {pattern!r}; console:\n{console(domid)[-1500:]}")


def xs_read(path):
    r = subprocess.run(["xenstore-read", path], env=dict(os.environ, XENSTORED_PATH=xs, XENSTORED_RUNDIR="/nonexistent"),
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return int(r.stdout) if r.returncode == 0 and r.stdout.strip().isdigit() else 0


def start_sink(port, idle_ms=1500, max_s=120):
    p = b.spawn([helper, "sink", str(port), str(idle_ms), str(max_s), tmp])  # tmp: names it for cleanup
    b.wait_for_line(p, r"^SINK ready", 10)
    return p


def sink_result(p, timeout=150):
    _, text = b.wait_for_line(p, r"^SINK packets=", timeout)
    m = re.search(r"SINK packets=(\d+) bytes=(\d+) span_ns=(\d+)", text)
    b.kill(p)
    n, nbytes, span = int(m[1]), int(m[2]), int(m[3])
    return n, nbytes, span


def rates(n, nbytes, span):
    if n < 2 or span == 0:
        return 0.0, 0.0
    return (n - 1) * 1e9 / span, nbytes * (n - 1) / n * 8 / span * 1e3  # pps, payload Mbit/s


def backd_cpu_ns():
    """CPU time of pv-backd's threads (incl. io_uring workers), from schedstat."""
    try:
        pid = open(os.path.join(state, "pv-backd.pid")).read().strip()
        total = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                total += int(f.read().split()[0])
        return total
    except (OSError, ValueError):
        return 0


def real_ping(argv_prefix, dst):
    r = sh(*argv_prefix, "ping", "-q", "-c", str(a.pings), "-i", "0.05", "-W", "2", dst, check=False, timeout=60)
    m = re.search(r"= ([0-9.]+)/([0-9.]+)/([0-9.]+)/", r.stdout)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"ping {dst} failed: {r.stdout} {r.stderr}")
    return float(m[2]) * 1000  # avg, us


port = 9100
results = {size: {"guest": [], "tap": [], "guest_sent": [], "kicks": [], "notifies": [], "cpu": [], "tapcpu": []}
           for size in (64, 1472)}
ping_guest, ping_host_to_guest, ping_veth = [], [], []
for rnd in range(a.rounds):
    for size in (64, 1472):
        # Reference: the host writes the frames to a tap on the same bridge.
        port += 1
        sink = start_sink(port)
        w = b.spawn([helper, "tapwrite", "benchtap", "benchbr", str(port), str(size), str(a.duration), tmp])
        _, text = b.wait_for_line(w, r"^TAPWRITE", a.duration + 30)
        b.kill(w)
        tw = re.search(r"TAPWRITE packets=(\d+) ns=(\d+)", text)
        results[size]["tapcpu"].append(int(tw[2]) / max(int(tw[1]), 1) / 1000)  # one thread, always busy
        results[size]["tap"].append(rates(*sink_result(sink)))

        # The guest, same sink, same frames.
        port += 1
        sink = start_sink(port)
        name = f"net{rnd}-{size}"
        cfg = os.path.join(tmp, name + ".cfg")
        with open(cfg, "w") as f:
            f.write(f'name = "{name}"\nmemory = 64\nvcpus = 1\ntype = "pvh"\nkernel = "{b.GUEST}"\n'
                    f'extra = "net=static ip=10.0.20.10/24 ping=10.0.20.1,count={a.pings},interval=50 '
                    f'udpsend=10.0.20.1:{port},size={size},duration={int(a.duration * 1000)}ms netserve"\n'
                    f"vif = ['mac=00:16:3e:00:20:10, bridge=benchbr']\n")
        out = pvctl("create", cfg).stdout
        domid = int(re.search(r"\(id (\d+)\)", out)[1])
        m = wait_console(domid, r"PING summary .*received=(\d+) .*rtt_avg_us=(\d+)", 120)
        cpu0 = backd_cpu_ns()  # udpsend starts now
        if int(m[1]) > 0:
            ping_guest.append(float(m[2]))
        m = wait_console(domid, r"UDPSEND packets=(\d+) bytes=\d+ ns=\d+ pps=(\d+) mbps=([0-9.]+)", a.duration + 60)
        results[size]["cpu"].append((backd_cpu_ns() - cpu0) / max(int(m[1]), 1) / 1000)
        results[size]["guest_sent"].append((float(m[2]), float(m[3])))
        detail = wait_console(domid, r"UDPSEND detail .*", 30)
        print(f"round {rnd} size {size}: {m[0]}\n  {detail[0]}")
        got = sink_result(sink)
        print(f"  sink received {got[0]} of the {m[1]} frames the guest sent")
        results[size]["guest"].append(rates(*got))
        be = f"/local/domain/0/backend/vif/{domid}/0/statistics"
        tx = max(xs_read(be + "/tx-packets"), 1)
        results[size]["kicks"].append(xs_read(be + "/kicks") / tx)
        results[size]["notifies"].append(xs_read(be + "/notify-tx") / tx)
        wait_console(domid, r"NETSERVE ready", 30)
        ping_host_to_guest.append(real_ping([], "10.0.20.10"))
        pvctl("destroy", name)
        ping_veth.append(real_ping(["ip", "netns", "exec", NS_A], "10.0.21.2"))

print(f"rounds {a.rounds}, {a.duration:.1f} s of sending per measurement, {a.pings} pings each")
for size in (64, 1472):
    r = results[size]
    gp, gm = b.median([x[0] for x in r["guest"]]), b.median([x[1] for x in r["guest"]])
    tp, tm = b.median([x[0] for x in r["tap"]]), b.median([x[1] for x in r["tap"]])
    sp = b.median([x[0] for x in r["guest_sent"]])
    print(f"UDP {size:4d} B guest->host: {gp:10.0f} pkt/s {gm:8.2f} Mbit/s received "
          f"(guest reports {sp:.0f} pkt/s sent; {b.median(r['kicks']):.3f} kicks, "
          f"{b.median(r['notifies']):.3f} tx notifications per packet)")
    print(f"UDP {size:4d} B tap writer : {tp:10.0f} pkt/s {tm:8.2f} Mbit/s received   ratio guest/tap = {gp / tp:.4f}")
    print(f"  guest pkt/s per round: {[round(x[0]) for x in r['guest']]}  tap: {[round(x[0]) for x in r['tap']]}")
    print(f"  host CPU per packet: pv-backd {b.median(r['cpu']):.2f} us (all its threads, kernel time of the tap "
          f"write included) vs tap writer {b.median(r['tapcpu']):.2f} us (write() loop)")
pg, ph, pv = b.median(ping_guest), b.median(ping_host_to_guest), b.median(ping_veth)
print(f"ping guest->host (guest's own timing): median of round averages {pg:.0f} us")
print(f"ping host->guest (real ping):          median of round averages {ph:.0f} us")
print(f"ping namespace->namespace over veth:   median of round averages {pv:.0f} us   "
      f"ratios {pg / pv:.1f}x / {ph / pv:.1f}x")
for size in (64, 1472):
    r = results[size]
    gp, gm = b.median([x[0] for x in r["guest"]]), b.median([x[1] for x in r["guest"]])
    tp, tm = b.median([x[0] for x in r["tap"]]), b.median([x[1] for x in r["tap"]])
    b.result(f"UDP guest->host, {size} B payload", f"{gp:.0f} pkt/s, {gm:.1f} Mbit/s",
             f"host writing a tap: {tp:.0f} pkt/s, {tm:.1f} Mbit/s", f"{gp / tp:.3f}x", "(reported)", "-")
for size in (64, 1472):
    r = results[size]
    c, t = b.median(r["cpu"]), b.median(r["tapcpu"])
    b.result(f"Host CPU per guest packet, {size} B (pv-backd)", f"{c:.1f} us", f"tap writer: {t:.1f} us/packet",
             f"{c / t:.1f}x", "(reported)", "-")
b.result("Ping RTT guest->host / host->guest", f"{pg:.0f} us / {ph:.0f} us", f"veth between namespaces: {pv:.0f} us",
         f"{pg / pv:.1f}x / {ph / pv:.1f}x", "(reported)", "-")
