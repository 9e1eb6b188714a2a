# Settings shared by the fleet harness scripts. Source it (bash); every path lives under $FLEET_WORK.
# Findings behind each setting: ../../docs/ansible.md "Test harness" (runc, ulimits, internal network).
FLEET_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${FLEET_WORK:=/var/tmp/oplguard-fleet}"   # venv, podman storage, ssh key, inventory, wheels, logs
: "${FLEET_NET:=oplguard-fleet}"             # podman network: bridge, --internal (no NAT, no route out)
: "${FLEET_SUBNET_PREFIX:=198.18.1}"         # benchmarking range 198.18.0.0/15 only
: "${FLEET_SIZE:=3}"
: "${FLEET_PREFIX:=oplguard-mail}"           # containers oplguard-mail1..N, hostnames mail1..N
: "${FLEET_VENV:=$FLEET_WORK/venv}"
: "${FLEET_DIST:=$FLEET_WORK/dist}"          # wheels built on the controller, copied to the hosts
# The image tag carries a hash of what goes into it, so a changed package set builds a new image
# and a machine that is reused keeps a valid one.
# postfix: a mail host has an MTA (role oplguard_mta configures it); nginx: the reverse proxy
# in front of oplguard web (role oplguard, oplguard_web_enabled). The Exim hosts of the
# oplguard_mta scenario use a variant, $FLEET_IMAGE_EXIM: the same rootfs with Debian's
# exim4-daemon-heavy installed instead (the two MTAs conflict; image.sh builds both).
FLEET_IMAGE_PACKAGES="python3,python3-venv,python3-apt,openssh-server,iproute2,procps,systemd,systemd-sysv,dbus,sudo,spamc,postfix,nginx"
FLEET_IMAGE_EXIM_PACKAGES="exim4-daemon-heavy"
: "${FLEET_IMAGE:=localhost/oplguard-fleet:bookworm-$(printf '%s' "$FLEET_IMAGE_PACKAGES" "$FLEET_IMAGE_EXIM_PACKAGES" \
  "$(sed -n '/^# image-spec-begin/,/^# image-spec-end/p' "$FLEET_REPO/scripts/fleet/image.sh")" \
  | sha256sum | cut -c1-10)}"
: "${FLEET_IMAGE_EXIM:=$FLEET_IMAGE-exim}"
export FLEET_REPO FLEET_WORK FLEET_NET FLEET_SUBNET_PREFIX FLEET_SIZE FLEET_PREFIX FLEET_VENV FLEET_DIST \
  FLEET_IMAGE FLEET_IMAGE_PACKAGES FLEET_IMAGE_EXIM FLEET_IMAGE_EXIM_PACKAGES
# Private podman config + storage: nothing in /etc/containers or /var/lib/containers is touched
# (except network definitions, which podman 4.3 always keeps in /etc/containers/networks/).
export CONTAINERS_CONF="$FLEET_WORK/podman/containers.conf"
export CONTAINERS_STORAGE_CONF="$FLEET_WORK/podman/storage.conf"
export PATH="$FLEET_VENV/bin:$PATH"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
export MOLECULE_GLOB="molecule/*/molecule.yml"
# pip on this machine kind has a site-wide find-links/extra-index that prints noise for every package
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

fleet_log() { printf '[fleet %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

fleet_write_podman_conf() {
  mkdir -p "$FLEET_WORK/podman/storage" "$FLEET_WORK/podman/runroot"
  # * runc, not crun: crun 1.8.1 refuses this kernel's hybrid cgroup layout
  #   ("crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2").
  # * ulimits: root here lacks CAP_SYS_RESOURCE; podman's default nofile (1048576) fails with
  #   "setrlimit RLIMIT_NOFILE: Operation not permitted". podman caps its children at nproc 32768.
  # * subnets: podman's own default 10.88.0.0/16 is never used; only 198.18.0.0/16.
  local nofile; nofile=$(ulimit -Hn)
  # Written to a temporary file and moved into place only when different: scenarios running in
  # parallel read it while up.sh writes it.
  cat > "$CONTAINERS_CONF.new.$$" <<CONF
[containers]
default_ulimits = [ "nofile=${nofile}:${nofile}", "nproc=32768:32768" ]
[network]
default_subnet = "198.18.0.0/24"
default_subnet_pools = [ {"base" = "198.18.0.0/16", "size" = 24} ]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  cat > "$CONTAINERS_STORAGE_CONF.new.$$" <<CONF
[storage]
driver = "overlay"
graphroot = "$FLEET_WORK/podman/storage"
runroot = "$FLEET_WORK/podman/runroot"
CONF
  local f
  for f in "$CONTAINERS_CONF" "$CONTAINERS_STORAGE_CONF"; do
    if cmp -s "$f.new.$$" "$f"; then rm -f "$f.new.$$"; else mv -f "$f.new.$$" "$f"; fi
  done
}

# What a wheel of oplguard is built from (build-wheels.sh, test-all.sh's snapshot): the package,
# its metadata, setup.py and the in-tree build backend that pyproject.toml names.
PACKAGE_SOURCE=(pyproject.toml setup.py MANIFEST.in README.md LICENSE LICENSE.txt CHANGELOG.md
  plugin src scripts/backend)
