#!/usr/bin/env python3
"""Benchmark 2: event-channel round trip guest -> pv-hv -> guest vs the null
hypercall, both measured in the same guest run.

The guest sends on one end of a loopback interdomain pair and waits for its
own upcall handler to count the event on the other end. It also reports the
same EVTCHNOP_send with the target end masked (no upcall), the cost of one
pvclock read and of one emulated instruction, so the round trip can be split
into "send hypercall" and "upcall delivery + handler".
"""
import argparse
import sys

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("-n", type=int, default=500, help="round trips per round")
ap.add_argument("--hypercalls", type=int, default=5000, help="null hypercalls per round")
ap.add_argument("--rounds", type=int, default=5)
a = ap.parse_args()
b.need_built()

cmd = f"bench-insn=20000 bench-hypercall={a.hypercalls} bench-evtchn={a.n} bench-rounds={a.rounds}"
out = b.run_guest(cmd, timeout=300)
ev = b.bench_values(out, "evtchn", "ns_per_roundtrip")
hc = b.bench_values(out, "hypercall", "ns_per_call")
sm = b.bench_values(out, "evtchn-send-masked", "ns_per_call")
clk = b.bench_values(out, "pvclock", "ns_per_read")
ins = b.bench_values(out, "insn", "ns_per_insn")
if len(ev) != a.rounds or len(hc) != a.rounds or "never arrived" in out:
    sys.exit(f"bench_evtchn: incomplete or lost events:\n{out}")
me, mh, ms, mc, mi = (b.median(x) for x in (ev, hc, sm, clk, ins))
ratio = me / mh
print(f"guest cmdline: {cmd}")
print(f"evtchn round trip:              median {me / 1000:.1f} us  ({b.spread([x / 1000 for x in ev])}) us")
print(f"null hypercall (reference):     median {mh / 1000:.1f} us  ({b.spread([x / 1000 for x in hc])}) us")
print(f"  of which EVTCHNOP_send (target masked, no upcall): {ms / 1000:.1f} us")
print(f"  of which upcall injection + handler + wait:        {(me - ms) / 1000:.1f} us"
      f"  (~{(me - ms) / mi:.0f} emulated-instruction times)")
print(f"one pvclock read: {mc / 1000:.1f} us; one emulated instruction: {mi:.0f} ns")
for line in out.splitlines():
    if "upcall_before_send_returned" in line:
        print(line.strip())
        break
print(f"ratio evtchn/hypercall = {ratio:.1f}x")
b.result("Event-channel round trip vs null hypercall (same guest)", f"{me / 1000:.0f} us/round trip",
         f"{mh / 1000:.1f} us/call", f"{ratio:.1f}x", "(reported)", "-")
