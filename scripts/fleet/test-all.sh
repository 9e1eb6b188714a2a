#!/usr/bin/env bash
# The Ansible side's whole test, from a fresh Debian 12 machine, as root:
#   install.sh (apt: podman runc debootstrap; the pinned controller venv) -> image.sh (debootstrap
#   image) -> build-wheels.sh (oplguard + dependencies) -> lint -> every molecule scenario.
# Usage: test-all.sh [lint|SCENARIO ...]      (default: lint and every scenario under molecule/)
# Env:   FLEET_JOBS=N   run up to N scenarios at once (default 3; the fleet scenario uses SSH and
#                       its own network, the others podman exec, so they do not collide)
# Prints one PASS/FAIL line per item and closes with "N passed, M failed"; exit 1 on any failure.
# Logs: $FLEET_WORK/logs/<item>.log
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
t0=$SECONDS
LOGS="$FLEET_WORK/logs"
mkdir -p "$LOGS"
# One run at a time on a machine: the scenarios share container names, the fleet network and logs.
exec 9>"$FLEET_WORK/test-all.lock"
if ! flock -n 9; then fleet_log "another test-all.sh runs (lock $FLEET_WORK/test-all.lock): waiting"; flock 9; fi
rm -f "$LOGS"/*.result
JOBS=${FLEET_JOBS:-3}

if (($#)); then items=("$@"); else
  items=(lint)
  for f in "$FLEET_REPO"/molecule/*/molecule.yml; do items+=("$(basename "$(dirname "$f")")"); done
fi

closing() {  # $1 passed, $2 failed
  fleet_log "total $((SECONDS-t0))s; logs in $LOGS"
  echo "$1 passed, $2 failed"
}

# Every wheel build of this run (the set-up's and the one site.yml does in the fleet scenario)
# reads one snapshot of the source taken now: a work tree that changes while the scenarios run
# would otherwise give the idempotence step a new wheel to install.
snapshot_source() {
  local src=$FLEET_WORK/src
  rm -rf "$src" && mkdir -p "$src"
  local parts=() f
  for f in "${PACKAGE_SOURCE[@]}"; do
    [ -e "$FLEET_REPO/$f" ] && parts+=("$f")
  done
  (cd "$FLEET_REPO" && tar --exclude='__pycache__' --exclude='*.egg-info' --exclude='*.pyc' -cf - "${parts[@]}") \
    | tar -C "$src" -xf -
  export OPLGUARD_SOURCE_DIR=$src
}
setup() {
  "$HERE/install.sh" && "$HERE/image.sh" && snapshot_source && "$HERE/build-wheels.sh" "$FLEET_DIST" >/dev/null
}
if ! setup > "$LOGS/setup.log" 2>&1; then
  cat "$LOGS/setup.log"
  echo "FAIL setup (install, image or wheels): every item counts as failed"
  closing 0 "${#items[@]}"
  exit 1
fi
grep '^\[fleet' "$LOGS/setup.log"
fleet_log "set-up done after $((SECONDS-t0))s"
trap '"$HERE/down.sh" >/dev/null 2>&1' EXIT

run_item() {  # runs one item, writes "<rc> <seconds>" to $LOGS/<item>.result
  local item=$1 start=$SECONDS rc
  if [ "$item" = lint ]; then
    "$HERE/lint.sh" > "$LOGS/lint.log" 2>&1; rc=$?
  else
    (cd "$FLEET_REPO" && molecule test -s "$item") > "$LOGS/$item.log" 2>&1; rc=$?
  fi
  echo "$rc $((SECONDS-start))" > "$LOGS/$item.result"
  if ((rc == 0)); then echo "PASS $item ($((SECONDS-start))s)"; else echo "FAIL $item ($((SECONDS-start))s, rc $rc): $LOGS/$item.log"; fi
}

# longest first, so that the lanes end together
ordered=()
for first in fleet oplguard oplguard_sender_groups; do
  for item in "${items[@]}"; do [ "$item" = "$first" ] && ordered+=("$item"); done
done
for item in "${items[@]}"; do
  [[ " ${ordered[*]} " == *" $item "* ]] || ordered+=("$item")
done
for item in "${ordered[@]}"; do
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
  run_item "$item" &
done
wait

passed=0 failed=0
for item in "${items[@]}"; do
  read -r rc _ < "$LOGS/$item.result" 2>/dev/null || rc=1
  if [ "$rc" = 0 ]; then passed=$((passed+1)); else
    failed=$((failed+1))
    echo "---- $item: last lines of $LOGS/$item.log"
    grep -E 'fatal:|FAILED!|\[ERROR\]|^ERROR|CRITICAL Ansible|msg' "$LOGS/$item.log" | grep -v "glob failed" | tail -15
  fi
done
closing "$passed" "$failed"
((failed == 0))
