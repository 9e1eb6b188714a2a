#!/usr/bin/env bash
# Start FLEET_SIZE systemd mail hosts (podman containers) on an internal bridge in
# $FLEET_SUBNET_PREFIX.0/24, reachable from this machine over SSH as root@$FLEET_SUBNET_PREFIX.11.. ;
# writes $FLEET_WORK/inventory.ini (group mailhosts). Needs install.sh and image.sh first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
t0=$SECONDS
fleet_write_podman_conf
podman image exists "$FLEET_IMAGE" || { echo "up.sh: no image $FLEET_IMAGE: run image.sh first" >&2; exit 1; }

# Safety net first: nothing for 198.18.0.0/15 may follow the default route off this machine, even
# before the bridge has its address. The connected /24 added below is more specific and wins.
ip route replace unreachable 198.18.0.0/15
# netavark switches net.ipv4.ip_forward on for any bridge (internal ones too): keep the old value
[ -f "$FLEET_WORK/ip_forward.orig" ] || cat /proc/sys/net/ipv4/ip_forward > "$FLEET_WORK/ip_forward.orig"

mkdir -p "$FLEET_WORK/ssh"
key="$FLEET_WORK/ssh/id_ed25519"
[ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C oplguard-fleet-controller -f "$key"

# --internal: no NAT, no gateway; the hosts reach nothing but each other and this machine
podman network exists "$FLEET_NET" || \
  podman network create --internal --disable-dns --subnet "$FLEET_SUBNET_PREFIX.0/24" "$FLEET_NET" >/dev/null

# SYS_ADMIN: without it systemd inside the container silently skips mount namespacing, so the
# unit's ProtectSystem=/PrivateTmp=/ProtectProc= would not be in force (a real host has it).
for i in $(seq 1 "$FLEET_SIZE"); do
  name="$FLEET_PREFIX$i"
  podman container exists "$name" && continue
  podman run -d --name "$name" --hostname "mail$i" --label oplguard-fleet=1 \
    --network "$FLEET_NET" --ip "$FLEET_SUBNET_PREFIX.$((10+i))" --systemd=always --cap-add SYS_ADMIN \
    -v "$key.pub:/root/.ssh/authorized_keys:ro" "$FLEET_IMAGE" >/dev/null
done

# An internal bridge has no host address: give it one so the controller can talk to the hosts
br=$(podman network inspect -f '{{.NetworkInterface}}' "$FLEET_NET")
ip addr replace "$FLEET_SUBNET_PREFIX.1/24" dev "$br"

inv="$FLEET_WORK/inventory.ini"
{
  echo "[mailhosts]"
  for i in $(seq 1 "$FLEET_SIZE"); do echo "mail$i ansible_host=$FLEET_SUBNET_PREFIX.$((10+i))"; done
  echo
  echo "[mailhosts:vars]"
  echo "ansible_user=root"
  echo "ansible_python_interpreter=/usr/bin/python3"
  echo "ansible_ssh_private_key_file=$key"
  echo "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR'"
} > "$inv"

ssh_opts=(-i "$key" -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no
          -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
for i in $(seq 1 "$FLEET_SIZE"); do
  ip="$FLEET_SUBNET_PREFIX.$((10+i))" state=""
  for _ in $(seq 1 60); do
    state=$(ssh "${ssh_opts[@]}" "root@$ip" \
      'systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-system-running' 2>/dev/null || true)
    [[ "$state" =~ ^(running|degraded)$ ]] && break
    sleep 1
  done
  [[ "$state" =~ ^(running|degraded)$ ]] || { echo "up.sh: mail$i ($ip) did not boot: '$state'" >&2; exit 1; }
  [ "$state" = running ] || ssh "${ssh_opts[@]}" "root@$ip" systemctl --failed --no-legend >&2 || true
done
fleet_log "$FLEET_SIZE hosts up in $((SECONDS-t0))s; inventory $inv"
