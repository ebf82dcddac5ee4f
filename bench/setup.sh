#!/usr/bin/env bash
# Installs the benchmark's contenders on a fresh Debian machine: iproute2
# (ip -batch), BIRD 2 and FRR (bgpd and zebra). fibd, the minimal writer and
# the GoBGP peer are built from this module by `go run ./cmd/fibd-bench`.
# Run as root; it is safe to run again.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  echo "bench/setup.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi

packages=(iproute2 bird2 frr procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [[ ${#missing[@]} -gt 0 ]]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}"
fi

# The packages start their system services on machines with systemd; the
# benchmark runs its own instances inside its namespaces and never uses
# them. Stopping them keeps their CPU use out of the figures.
if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
  systemctl stop bird frr 2>/dev/null || true
fi

# The FRR daemons run as the frr user that the package creates.
id frr >/dev/null

echo "bench/setup.sh: ready ($(bird --version 2>&1); $(/usr/lib/frr/zebra --version | head -1); $(ip -V))"
