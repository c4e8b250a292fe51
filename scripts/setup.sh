#!/usr/bin/env bash
# Installs every Debian package the project needs to build, run and test.
# Idempotent: packages already present are skipped, apt is only touched when
# something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  linux-libc-dev                      # KVM API headers (<linux/kvm.h>)
  libboost-dev                        # Boost.Asio (header-only) for the admin socket
  libprotobuf-dev protobuf-compiler   # admin API / migration messages
  liburing-dev                        # pv-backd I/O
  zlib1g-dev                          # pv-backd: qcow2 compressed clusters (inflate)
  libgtest-dev libgmock-dev           # unit tests
  iproute2 iputils-ping procps        # end-to-end tests (namespaces, tap, ping)
  xenstore-utils                      # xenstore conformance tests (real Xen clients)
  qemu-system-x86                     # benchmark reference (microvm boot time)
  qemu-utils                          # qcow2 interop tests: qemu-img create/check/compare/bench
  fio                                 # benchmark reference (host I/O on the same image as a guest disk)
  python3                             # benchmark report helpers
  libmnl-dev                          # pvd's networks: rtnetlink (bridges, links, addresses)
  libnftables-dev                     # pvd's networks: NAT and isolation rules through libnftables
  dnsmasq-base                        # pvd's networks: DHCP and DNS, one dnsmasq per network
  nftables                            # network tests (and troubleshooting): nft list ruleset
  busybox                             # network tests: udhcpc, the DHCP client of a test guest
  nlohmann-json3-dev                  # pvctl --json output
  uuid-dev                            # pvd: domain UUIDs (libuuid)
  libssl-dev                          # pvd: migration's TLS 1.3 channel (OpenSSL, a well-kept TLS, not our own crypto)
  openssl                             # migration tests: the CA and certificates (openssl req / x509)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi
