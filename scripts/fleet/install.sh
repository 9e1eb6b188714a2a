#!/usr/bin/env bash
# Controller set-up for the Ansible tests, from a fresh Debian 12 machine, as root. Idempotent.
#   1. Debian packages: podman + runc (containers), debootstrap (image), openssh-client, iproute2
#   2. the controller venv $FLEET_VENV with the pinned tools of requirements.txt
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
t0=$SECONDS
[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (podman is used rootful)" >&2; exit 1; }
mkdir -p "$FLEET_WORK"

DEB=(podman runc debootstrap openssh-client iproute2 python3-venv)
missing=()
for pkg in "${DEB[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  fleet_log "apt-get install ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=900 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -q \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
fleet_log "host packages ready after $((SECONDS-t0))s"

stamp="$FLEET_VENV/.requirements.sha256"
want=$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$FLEET_VENV/bin/molecule" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  fleet_log "creating $FLEET_VENV"
  python3 -m venv "$FLEET_VENV"
  "$FLEET_VENV/bin/pip" install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  "$FLEET_VENV/bin/pip" install -q -r "$HERE/requirements.txt" 2>&1 | grep -v "^WARNING: Location" || true
  "$FLEET_VENV/bin/molecule" --version >/dev/null   # fails the script if the install did not work
  echo "$want" > "$stamp"
fi
fleet_log "controller venv ready after $((SECONDS-t0))s ($("$FLEET_VENV/bin/ansible" --version | sed -n 1p))"
