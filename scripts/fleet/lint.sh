#!/usr/bin/env bash
# yamllint and ansible-lint (production profile) over roles/, playbooks/ and molecule/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); . "$HERE/env.sh"
cd "$FLEET_REPO"
export ANSIBLE_ROLES_PATH="$FLEET_REPO/roles"
yamllint -s -c .yamllint roles playbooks molecule .config .yamllint .ansible-lint
fleet_log "yamllint: clean"
# both read their config from the repository root (.yamllint, .ansible-lint)
ansible-lint -c .ansible-lint --project-dir "$FLEET_REPO" roles playbooks molecule
fleet_log "ansible-lint (production): clean"
"$FLEET_VENV/bin/python" "$HERE/argspec-doc.py" --check
fleet_log "docs/ansible.md variable tables match the argument specs"
