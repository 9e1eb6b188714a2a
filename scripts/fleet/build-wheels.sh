#!/usr/bin/env bash
# Build the artifacts the oplguard role installs on hosts that have no internet:
#   DEST/oplguard-<version>-py3-none-any.whl    reproducible (SOURCE_DATE_EPOCH), so an unchanged
#                                                source gives a byte-identical wheel: no re-install
#   DEST/<dependency>.whl                        [project] dependencies of pyproject.toml, read now
# Usage: build-wheels.sh [DEST]    (default $FLEET_DIST). Prints CHANGED or UNCHANGED last.
# Env: OPLGUARD_SOURCE_DIR builds from another checkout (default: this repository).
# Env: OPLGUARD_HOST_PYTHON (3.11: Debian 12) and OPLGUARD_HOST_PLATFORM (manylinux2014_x86_64)
# select the dependency wheels for the hosts' interpreter.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
DEST=${1:-$FLEET_DIST}
PY=${OPLGUARD_BUILD_PYTHON:-python3}
[ -x "$FLEET_VENV/bin/python" ] && [ -z "${OPLGUARD_BUILD_PYTHON:-}" ] && PY="$FLEET_VENV/bin/python"
HOST_PY=${OPLGUARD_HOST_PYTHON:-3.11}
HOST_PLATFORM=${OPLGUARD_HOST_PLATFORM:-manylinux2014_x86_64}
mkdir -p "$DEST"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
quiet() { grep -v -e '^WARNING: Location' -e '^ *$' || true; }

# 1. the package, from a clean copy of the source (no build/ or egg-info of the work tree)
mkdir -p "$work/src" "$work/stage"
SRC=${OPLGUARD_SOURCE_DIR:-$FLEET_REPO}
parts=()
for f in "${PACKAGE_SOURCE[@]}"; do [ -e "$SRC/$f" ] && parts+=("$f"); done
(cd "$SRC" && tar --exclude='__pycache__' --exclude='*.egg-info' --exclude='*.pyc' -cf - "${parts[@]}") \
  | tar -C "$work/src" -xf -
export SOURCE_DATE_EPOCH=315532800   # 1980-01-01, the zip epoch: file times do not change the wheel
if "$PY" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 68)' 2>/dev/null; then
  isolation=--no-build-isolation
else
  isolation=""   # let pip fetch a recent setuptools into an isolated build environment
fi
if ! "$PY" -m pip wheel -q --no-deps $isolation -w "$work/stage" "$work/src" >"$work/wheel.log" 2>&1; then
  quiet < "$work/wheel.log" >&2; echo "build-wheels.sh: building the oplguard wheel failed" >&2; exit 1
fi

# 2. runtime dependencies, exactly as pyproject.toml lists them now
mapfile -t deps < <("$PY" - "$SRC/pyproject.toml" <<'PYEOF'
import sys, tomllib
with open(sys.argv[1], "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"].get("dependencies", [])))
PYEOF
)
if ((${#deps[@]})); then
  sel=(--only-binary=:all: --python-version "$HOST_PY" --implementation cp --platform "$HOST_PLATFORM")
  # offline first (wheels already in DEST), the package index only when something is missing
  if ! "$PY" -m pip download -q --no-index --find-links "$DEST" "${sel[@]}" -d "$work/stage" "${deps[@]}" \
       >/dev/null 2>&1; then
    "$PY" -m pip download -q "${sel[@]}" -d "$work/stage" "${deps[@]}" 2>&1 | quiet
  fi
fi

# 3. make DEST hold exactly the staged set; report whether anything changed
changed=0
for f in "$DEST"/*.whl; do
  [ -e "$f" ] || continue
  [ -e "$work/stage/$(basename "$f")" ] || { rm -f "$f"; changed=1; }
done
for f in "$work/stage"/*.whl; do
  cmp -s "$f" "$DEST/$(basename "$f")" || { cp "$f" "$DEST/"; changed=1; }
done
ls -1 "$DEST"
if ((changed)); then echo CHANGED; else echo UNCHANGED; fi
