# One command surface: make serve | lint | typecheck | test | check
VENV := .venv/bin
.PHONY: serve bootstrap bootstrap-test lint typecheck test test-compiled test-fresh-build check bench molecule

serve: bootstrap  ## start oplguard on 127.0.0.1:783 with the embedded sample config
	$(VENV)/oplguard serve $(ARGS)

bootstrap:
	@scripts/bootstrap.sh

bootstrap-test:
	@scripts/bootstrap.sh --test

lint: bootstrap-test
	$(VENV)/ruff check plugin tests bench roles setup.py scripts/backend
	$(VENV)/ruff format --check plugin tests bench roles setup.py scripts/backend

typecheck: bootstrap-test
	$(VENV)/mypy
	$(VENV)/mypy --strict roles/oplguard_mta/filter_plugins

test: bootstrap-test
	$(VENV)/pytest --cov --cov-report=term

test-compiled: bootstrap-test  ## the mypyc build of the scoring core (setup.py) against its tests
	scripts/compiled.sh test

test-fresh-build:  ## OPLGUARD_COMPILE=1 pip install . from a fresh virtualenv, as the README documents
	scripts/compiled.sh fresh

check: lint typecheck test test-compiled test-fresh-build  ## the whole suite, as CI runs it

molecule:  ## as root: Ansible lint + every molecule scenario (installs podman, builds the test image)
	scripts/fleet/test-all.sh $(SCENARIOS)
