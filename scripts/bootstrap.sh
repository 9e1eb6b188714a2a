#!/usr/bin/env bash
# Set up what oplguard needs on this machine: Debian packages (when root) and
# the project's virtualenv.  Idempotent; quiet when everything is there.
#   scripts/bootstrap.sh          runtime only (make serve)
#   scripts/bootstrap.sh --test   plus the test tools and the real peers
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

# Real peers the tests talk to (spamc, SpamAssassin's spamd, rbldnsd, ...).
DEB_TEST=(spamc spamassassin spamd rbldnsd openssl postgresql)
# The web service's tests: a real browser (Playwright drives Debian's chromium,
# never its own download) and a real authoritative DNS server for PTR records.
DEB_TEST+=(chromium nsd)
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

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip >/dev/null
fi
extra=""
[ "$want_test" = 1 ] && extra="[test]"
stamp=".venv/.installed${extra:+-test}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "bootstrap: installing oplguard${extra} into .venv"
  .venv/bin/pip install -q -e ".${extra}" 2>&1 | grep -v -e '^WARNING: Location' -e '^$' || true
  touch "$stamp"
fi
