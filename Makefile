# One command surface: make serve | lint | typecheck | test-fast | test | check
VENV := .venv/bin
.PHONY: serve bootstrap bootstrap-dev bootstrap-test lint typecheck test-fast test test-compiled test-fresh-build check bench molecule

serve: bootstrap  ## start oplguard on 127.0.0.1:783 with the embedded sample config
	$(VENV)/oplguard serve $(ARGS)

bootstrap:
	@scripts/bootstrap.sh

bootstrap-dev:  ## the venv with the test tools, no Debian packages (no root needed)
	@scripts/bootstrap.sh --dev

bootstrap-test:
	@scripts/bootstrap.sh --test

lint: bootstrap-dev
	$(VENV)/ruff check plugin tests bench roles setup.py scripts/backend
	$(VENV)/ruff format --check plugin tests bench roles setup.py scripts/backend

typecheck: bootstrap-dev
	$(VENV)/mypy
	$(VENV)/mypy --strict roles/oplguard_mta/filter_plugins

test-fast: bootstrap-dev  ## unit and property tests only: under 2 minutes, no root, no real peers
	$(VENV)/pytest -q -p no:cacheprovider tests/unit tests/fuzz

test: bootstrap-test
	$(VENV)/pytest --cov --cov-report=term

test-compiled: bootstrap-test  ## the mypyc build of the scoring core (setup.py) against its tests
	scripts/compiled.sh test

test-fresh-build:  ## OPLGUARD_COMPILE=1 pip install . from a fresh virtualenv, as the README documents
	scripts/compiled.sh fresh

check: lint typecheck test test-compiled test-fresh-build  ## the whole suite, as CI runs it

molecule:  ## as root: Ansible lint + every molecule scenario (installs podman, builds the test image)
	scripts/fleet/test-all.sh $(SCENARIOS)
