#!/usr/bin/env bash
# The main job: installs what is missing, builds, and boots a domain on the
# reference guest kernel with a disk and a network card on a NAT network,
# its console on this terminal. Everything runs under a private pvd whose
# state lives in a temporary directory; the domain, the network and pvd are
# removed again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh

work=$(mktemp -d /tmp/pvdemo.XXXXXX)
pvctl() { build/bin/pvctl --socket "$work/pvd.sock" "$@"; }
pvd_pid=
cleanup() {
  set +e
  if [[ -n $pvd_pid ]]; then
    pvctl destroy demo >/dev/null 2>&1
    pvctl network destroy pvdemo >/dev/null 2>&1
    kill "$pvd_pid" 2>/dev/null
    wait "$pvd_pid" 2>/dev/null
  fi
  # pv-backd outlives pvd on purpose (a pvd restart must not cut guests off
  # their disks); the demo is over, so it goes too.
  if [[ -r $work/state/pv-backd.pid ]]; then
    kill "$(cat "$work/state/pv-backd.pid")" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

build/bin/pvd --state-dir "$work/state" --socket "$work/pvd.sock" 2>"$work/pvd.log" &
pvd_pid=$!
for _ in $(seq 100); do pvctl list >/dev/null 2>&1 && break; sleep 0.1; done

subnet=10.213.7.0/24 gw=10.213.7.1
echo "== NAT network pvdemo ($subnet, DHCP from pvd's dnsmasq) =="
pvctl network create pvdemo --mode nat --subnet "$subnet"
echo "== a 64 MiB sparse disk image =="
truncate -s 64M "$work/disk.img"

# The guest writes a pattern to its disk and reads it back, flushes, takes
# an address by DHCP and pings the host through the NAT bridge, then powers off.
cat >"$work/demo.cfg" <<CFG
name = "demo"
type = "pvh"
kernel = "$PWD/build/guest/pvguest.elf"
memory = 64
vcpus = 2
disk = ['format=raw, vdev=xvda, access=rw, target=$work/disk.img']
vif = ['bridge=pvdemo']
extra = "blkio=info;write,seq,bs=65536,count=32,verify,seed=7,flush net=dhcp ping=$gw,count=3"
CFG
pvctl create "$work/demo.cfg"
pid=$(pvctl info demo | sed -n 's/^ *pid: *//p')
echo "== console of domain demo (pv-hv pid $pid) =="
tail -n +1 -f --pid="$pid" "$work/state/domains/1.console.log"
echo "== the host reads the guest's pattern back from the image =="
python3 - "$work/disk.img" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read(32 * 65536)
bad = sum(1 for s in range(len(data) // 512)
          if data[s*512:(s+1)*512] != struct.pack('<64Q', *[(s * 0x9E3779B97F4A7C15 + 7 + w) % 2**64 for w in range(64)]))
print(f"image: {len(data)//512} sectors checked, {bad} differ")
sys.exit(1 if bad else 0)
PY
