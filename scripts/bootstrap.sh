#!/usr/bin/env bash
# Set up what oplguard needs on this machine: Debian packages (when root) and
# the project's virtualenv.  Idempotent; quiet when everything is there.
#   scripts/bootstrap.sh          runtime only (make serve)
#   scripts/bootstrap.sh --dev    plus the test tools in .venv, no Debian packages (make lint,
#                                 typecheck, test-fast: no root, no MTAs)
#   scripts/bootstrap.sh --test   plus the test tools and the real peers (as root: apt)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0 want_tools=0
case "${1:-}" in
  --test) want_test=1 want_tools=1 ;;
  --dev) want_tools=1 ;;
  "") ;;
  *) echo "usage: scripts/bootstrap.sh [--dev|--test]" >&2; exit 64 ;;
esac

# Real peers the tests talk to (spamc, SpamAssassin's spamd, rbldnsd, ...).
DEB_TEST=(spamc spamassassin spamd rbldnsd openssl postgresql)
# The web service's tests: a real browser (Playwright drives Debian's chromium,
# never its own download) and a real authoritative DNS server for PTR records.
DEB_TEST+=(chromium nsd)
# The Ansible roles' molecule scenarios (tests/ansible): rootful podman with runc and a test-host
# image built with debootstrap (scripts/fleet/install.sh adds the controller venv itself).
DEB_TEST+=(podman runc debootstrap)
# The shipped Prometheus alert rules are unit-tested with promtool (tests/integration/test_alert_rules.py).
DEB_TEST+=(prometheus)
if [ "$want_test" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for pkg in "${DEB_TEST[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# --- MTAs for the MTA tests (tests/integration/test_postfix_*.py, test_exim.py) ---
# Postfix and swaks from their packages; Postfix is configured "No
# configuration" and never started as a system service here: the tests run
# their own instances on free loopback ports.  exim4-daemon-heavy conflicts
# with postfix (both are the mail-transport-agent), so its .deb is only
# unpacked to $EXIM_ROOT (the tests look there), its libraries come from apt,
# and the Debian-exim user its binary is compiled for is created here.
EXIM_ROOT=/opt/oplguard-test/exim4-daemon-heavy
EXIM_USER=Debian-exim

deb_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# Quiet apt-get install; debconf's "delaying package configuration" notice is dropped.
apt_quiet() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    2> >(grep -v "delaying package configuration" >&2) >/dev/null
}

# Runs "$@" with service starts refused (policy-rc.d exit 101), unless a
# policy-rc.d is already in place (Docker-style images ship one).
without_service_starts() {
  local policy=/usr/sbin/policy-rc.d status=0
  if [ -e "$policy" ]; then "$@"; return; fi
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
  "$@" || status=$?
  rm -f "$policy"
  return "$status"
}

install_test_mtas() {
  local missing=() pkg
  for pkg in postfix swaks; do deb_installed "$pkg" || missing+=("$pkg"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]} for the MTA tests"
    printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
      "postfix postfix/mailname string localhost" | debconf-set-selections
    apt-get update -qq
    without_service_starts apt_quiet "${missing[@]}"
    # A system Postfix must not sit on port 25 next to the tests' instances.
    if postfix status >/dev/null 2>&1; then postfix stop >/dev/null 2>&1 || true; fi
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now postfix >/dev/null 2>&1 || true
    fi
  fi
  if [ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]; then
    echo "bootstrap: unpacking exim4-daemon-heavy to $EXIM_ROOT for the MTA tests"
    local tmp deb deps
    tmp=$(mktemp -d)
    chmod 755 "$tmp" # apt-get download writes as the _apt user
    if ! (cd "$tmp" && apt-get download -qq exim4-daemon-heavy >/dev/null 2>&1); then
      apt-get update -qq
      (cd "$tmp" && apt-get download -qq exim4-daemon-heavy >/dev/null)
    fi
    deb=$(ls "$tmp"/exim4-daemon-heavy_*.deb)
    # Its libraries: the Depends field without exim4-base and debconf.
    mapfile -t deps < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' |
      sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' | grep -v -e '^$' -e '^exim4' -e '^debconf')
    apt_quiet "${deps[@]}"
    dpkg-deb -x "$deb" "$tmp/root"
    mkdir -p "$(dirname "$EXIM_ROOT")"
    rm -rf "$EXIM_ROOT"
    mv "$tmp/root" "$EXIM_ROOT"
    rm -rf "$tmp"
  fi
  if ! getent passwd "$EXIM_USER" >/dev/null; then
    adduser --system --group --quiet --allow-bad-names --home /var/spool/exim4 \
      --no-create-home --disabled-login "$EXIM_USER"
  fi
}

if [ "$want_test" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  install_test_mtas
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
fi
extra=""
[ "$want_tools" = 1 ] && extra="[test]"
stamp=".venv/.installed${extra:+-test}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing oplguard${extra} into .venv"
  .venv/bin/pip install -q -e ".${extra}" 2>&1 | grep -v -e '^WARNING: Location' -e '^$' || true
  touch "$stamp"
fi
