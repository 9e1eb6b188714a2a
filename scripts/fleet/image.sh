#!/usr/bin/env bash
# Build the test-host images from a debootstrap rootfs (no registry is reachable): $FLEET_IMAGE
# (Postfix) and $FLEET_IMAGE_EXIM (the same rootfs with Exim instead). Skips what exists for the
# current package set. Cold: ~2.5 min for both. Needs install.sh first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
t0=$SECONDS
fleet_write_podman_conf
need_main=1 need_exim=1
podman image exists "$FLEET_IMAGE" && need_main=0
podman image exists "$FLEET_IMAGE_EXIM" && need_exim=0
if ((!need_main && !need_exim)); then fleet_log "images $FLEET_IMAGE and -exim exist"; exit 0; fi

ROOTFS="$FLEET_WORK/rootfs"
EXIM_ROOTFS="$FLEET_WORK/rootfs-exim"
cleanup() {
  umount "$EXIM_ROOTFS/proc" 2>/dev/null || true
  rm -rf "$ROOTFS" "$EXIM_ROOTFS"
}
trap cleanup EXIT
# The mirror apt uses on this machine (deb822 or one-line sources)
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
cleanup
fleet_log "debootstrap bookworm ($FLEET_IMAGE_PACKAGES) from $MIRROR"
debootstrap --variant=minbase --include="$FLEET_IMAGE_PACKAGES" bookworm "$ROOTFS" "$MIRROR" \
  > "$FLEET_WORK/debootstrap.log" 2>&1 || { tail -20 "$FLEET_WORK/debootstrap.log" >&2; exit 1; }
fleet_log "debootstrap done after $((SECONDS-t0))s"

spec() {  # $1: a rootfs
  local root=$1
  # image-spec-begin  (this block is hashed into the image tag)
  # per-container SSH host keys; room for authorized_keys; no apt caches; a fresh machine-id per boot
  rm -f "$root"/var/cache/apt/archives/*.deb "$root"/etc/ssh/ssh_host_*
  rm -rf "$root"/var/lib/apt/lists/*
  mkdir -p -m 700 "$root/root/.ssh"
  mkdir -p "$root/etc/systemd/system/ssh.service.d"
  printf '%s\n' '[Service]' 'ExecStartPre=' 'ExecStartPre=/usr/bin/ssh-keygen -A' \
    'ExecStartPre=/usr/sbin/sshd -t' > "$root/etc/systemd/system/ssh.service.d/10-hostkeys.conf"
  : > "$root/etc/machine-id"
  # image-spec-end
}

import() {  # $1: rootfs, $2: image
  fleet_log "rootfs $(du -sh "$1" | cut -f1)"
  # /sbin/init as CMD; SIGRTMIN+3 stops systemd cleanly
  tar --numeric-owner -C "$1" -c . | podman import \
    --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$2" >/dev/null
  fleet_log "image $2 built after $((SECONDS-t0))s"
}

if ((need_exim)); then
  # The Exim variant: apt in a chroot of a copy (it removes postfix, which conflicts).
  cp -a "$ROOTFS" "$EXIM_ROOTFS"
  mount -t proc proc "$EXIM_ROOTFS/proc"
  printf '#!/bin/sh\nexit 101\n' > "$EXIM_ROOTFS/usr/sbin/policy-rc.d"  # start no daemon here
  chmod 755 "$EXIM_ROOTFS/usr/sbin/policy-rc.d"
  fleet_log "installing $FLEET_IMAGE_EXIM_PACKAGES in a copy"
  { chroot "$EXIM_ROOTFS" apt-get update -qq &&
    chroot "$EXIM_ROOTFS" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends $FLEET_IMAGE_EXIM_PACKAGES
  } > "$FLEET_WORK/exim-image.log" 2>&1 || { tail -20 "$FLEET_WORK/exim-image.log" >&2; exit 1; }
  umount "$EXIM_ROOTFS/proc"
  rm -f "$EXIM_ROOTFS/usr/sbin/policy-rc.d"
  spec "$EXIM_ROOTFS"
  import "$EXIM_ROOTFS" "$FLEET_IMAGE_EXIM"
  rm -rf "$EXIM_ROOTFS"
fi
if ((need_main)); then
  spec "$ROOTFS"
  import "$ROOTFS" "$FLEET_IMAGE"
fi
