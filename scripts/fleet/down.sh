#!/usr/bin/env bash
# Remove the fleet containers, their network, the safety route and the ip_forward change.
# --purge also removes the images, the podman storage and the SSH key (the venv stays).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
if command -v podman >/dev/null && [ -f "$CONTAINERS_CONF" ]; then
  ids=$(podman ps -aq --filter label=oplguard-fleet=1)
  [ -n "$ids" ] && podman rm -f -t 5 $ids >/dev/null
  podman network exists "$FLEET_NET" && podman network rm -f "$FLEET_NET" >/dev/null
fi
ip route del unreachable 198.18.0.0/15 2>/dev/null
if [ -f "$FLEET_WORK/ip_forward.orig" ]; then
  cat "$FLEET_WORK/ip_forward.orig" > /proc/sys/net/ipv4/ip_forward && rm -f "$FLEET_WORK/ip_forward.orig"
fi
if [ "${1:-}" = "--purge" ] && [ -f "$CONTAINERS_CONF" ]; then
  podman rm -af -t 5 >/dev/null 2>&1
  podman rmi -af >/dev/null 2>&1
  # overlay mounts of our private graphroot must be gone before deleting it
  grep -q " $FLEET_WORK/podman/storage" /proc/mounts && umount -R "$FLEET_WORK/podman/storage/overlay" 2>/dev/null
  rm -rf "$FLEET_WORK/podman" "$FLEET_WORK/ssh" "$FLEET_WORK/inventory.ini"
fi
fleet_log "fleet down"
