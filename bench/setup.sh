#!/usr/bin/env bash
# Installs what bench.run compares against and the normal test suite does not
# need: rspamd (Debian package).  spamd, spamc and rbldnsd come from
# scripts/bootstrap.sh --test already.  Run as root; services are not started
# (the harness runs its own instances on loopback in temporary directories).
set -euo pipefail
BENCH_DEBS=(rspamd spamd spamc rbldnsd)
missing=()
for pkg in "${BENCH_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ "${#missing[@]}" = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench/setup.sh: run as root to install: ${missing[*]}" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
