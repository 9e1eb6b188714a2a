#!/usr/bin/env bash
# Build the test-host image from a debootstrap rootfs (no registry is reachable). Skips when the
# image for the current package set exists. Cold: ~1.5 min. Needs install.sh first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
t0=$SECONDS
fleet_write_podman_conf
if podman image exists "$FLEET_IMAGE"; then fleet_log "image $FLEET_IMAGE exists"; exit 0; fi

ROOTFS="$FLEET_WORK/rootfs"
# The mirror apt uses on this machine (deb822 or one-line sources)
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
rm -rf "$ROOTFS"
fleet_log "debootstrap bookworm ($FLEET_IMAGE_PACKAGES) from $MIRROR"
debootstrap --variant=minbase --include="$FLEET_IMAGE_PACKAGES" bookworm "$ROOTFS" "$MIRROR" \
  > "$FLEET_WORK/debootstrap.log" 2>&1 || { tail -20 "$FLEET_WORK/debootstrap.log" >&2; exit 1; }
fleet_log "debootstrap done after $((SECONDS-t0))s"

# image-spec-begin  (this block is hashed into the image tag)
# per-container SSH host keys; room for authorized_keys; no apt caches; a fresh machine-id per boot
rm -f "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/etc/ssh/ssh_host_*
rm -rf "$ROOTFS"/var/lib/apt/lists/*
mkdir -p -m 700 "$ROOTFS/root/.ssh"
mkdir -p "$ROOTFS/etc/systemd/system/ssh.service.d"
printf '%s\n' '[Service]' 'ExecStartPre=' 'ExecStartPre=/usr/bin/ssh-keygen -A' \
  'ExecStartPre=/usr/sbin/sshd -t' > "$ROOTFS/etc/systemd/system/ssh.service.d/10-hostkeys.conf"
: > "$ROOTFS/etc/machine-id"
# image-spec-end
fleet_log "rootfs $(du -sh "$ROOTFS" | cut -f1)"

# /sbin/init as CMD; SIGRTMIN+3 stops systemd cleanly
tar --numeric-owner -C "$ROOTFS" -c . | podman import \
  --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$FLEET_IMAGE" >/dev/null
rm -rf "$ROOTFS"
fleet_log "image $FLEET_IMAGE built in $((SECONDS-t0))s"
