#!/usr/bin/env bash
# The mypyc build of oplguard's scoring core (setup.py), unpacked to build/compiled,
# and the tests that hold it to the pure-Python behaviour.
#   scripts/compiled.sh build   build the wheel and unpack it (skipped when up to date)
#   scripts/compiled.sh test    build, then run the parsing, policy and protocol tests and
#                               the real-spamc integration tests against the compiled modules
#   scripts/compiled.sh fresh   OPLGUARD_COMPILE=1 pip install . in a new virtualenv, as the
#                               README documents it, then check the installed modules are compiled
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/compiled
WHEELS=build/compiled-wheel
STAMP="$OUT/.source-hash"

source_hash() {
  # Every input of the build: the compiled modules and what configures the build.
  cat setup.py pyproject.toml scripts/backend/oplguard_build.py \
    $(find plugin/oplguard -name '*.py' | sort) | sha256sum | cut -d' ' -f1
}

build() {
  local want
  want=$(source_hash)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    return
  fi
  echo "compiled: building oplguard with mypyc (about a minute)"
  rm -rf "$OUT" "$WHEELS"
  OPLGUARD_COMPILE=1 .venv/bin/pip wheel -q --no-deps -w "$WHEELS" . >/dev/null
  .venv/bin/pip install -q --no-deps --target "$OUT" "$WHEELS"/oplguard-*.whl
  echo "$want" >"$STAMP"
}

check_compiled() {
  # The tests below must run the compiled modules, not the editable source.
  PYTHONPATH="$OUT" .venv/bin/python - <<'PY'
import importlib
for name in ("oplguard.mail.received", "oplguard.mail.relays", "oplguard.policy.scanner",
             "oplguard.spamd.connection", "oplguard.server.spamd_protocol"):
    path = importlib.import_module(name).__file__ or ""
    assert path.endswith(".so") and "/build/compiled/" in path, f"{name} is not compiled: {path}"
print("compiled: running the tests against", path.rsplit("/oplguard/", 1)[0])
PY
}

fresh() {
  # Exactly what the README documents, from a fresh virtualenv (its own old pip and
  # setuptools, nothing preinstalled): the isolated build must bring everything itself.
  local venv=build/fresh-venv
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  echo "compiled: OPLGUARD_COMPILE=1 pip install . in a fresh venv (a few minutes)"
  OPLGUARD_COMPILE=1 "$venv/bin/pip" install -q . >"$venv.log" 2>&1 || {
    tail -40 "$venv.log" >&2
    echo "compiled: OPLGUARD_COMPILE=1 pip install . failed in a fresh venv" >&2
    exit 1
  }
  (cd build && "fresh-venv/bin/python" - <<'PY')
import importlib
for name in ("oplguard.mail.received", "oplguard.policy.scanner", "oplguard.spamd.connection"):
    path = importlib.import_module(name).__file__ or ""
    assert path.endswith(".so") and "/fresh-venv/" in path, f"{name} is not compiled: {path}"
print("compiled: the fresh venv runs the compiled modules")
PY
  # The compiled scoring path end to end: the sample's hop-3 relay is on the sample list.
  "$venv/bin/oplguard" explain tests/data/messages/listed-deep.eml >"$venv.explain"
  grep -q "203.0.113.66 at hop 3 is listed" "$venv.explain"
  echo "compiled: the fresh venv's build scores the sample message right"
  rm -rf "$venv" "$venv.log" "$venv.explain"
}

case "${1:-test}" in
  build) build ;;
  fresh) fresh ;;
  test)
    build
    check_compiled
    PYTHONPATH="$OUT" .venv/bin/pytest -q -p no:cacheprovider --no-cov \
      tests/unit/mail tests/unit/policy tests/unit/spamd \
      tests/integration/test_spamc.py tests/integration/test_conformance.py \
      tests/integration/test_spamd_protocol.py
    ;;
  *) echo "usage: $0 [build|test|fresh]" >&2; exit 64 ;;
esac
