# Pilot Desktop. `make run` installs and launches; `make test` installs and runs the tests.
SHELL := /bin/bash

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# python3.11 if it works, else python3 (or a newer 3.x); must be >= 3.11.
PYTHON ?= $(shell for p in python3.11 python3 python3.12 python3.13; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)

ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv run test lint sysdeps clean

venv: $(STAMP)

# Re-install only when pyproject.toml is newer than the stamp. The ngrok extra (tunnel mode
# ngrok-sdk) comes too: the app offers it out of the box and the tests reach the real SDK.
$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: Python >= 3.11 not found (tried python3.11, python3, python3.12, python3.13)" >&2; \
		exit 1; fi
	@if ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
		$(PYTHON) -m ensurepip --version >/dev/null 2>&1 || bash .ci/sysdeps.sh none python3-venv; \
		echo "creating $(VENV) with $(PYTHON)"; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[test,dev,ngrok]'
	@touch $(STAMP)

run: venv
	@bash .ci/sysdeps.sh window || \
		echo "warning: Qt system libraries missing (see above); starting anyway" >&2
	$(BIN)/pilot-desktop $(ARGS)

# The system libraries the tests need (Qt's offscreen platform, openssl for the TLS probe
# tests), installed when missing: as root, through sudo, or the exact command is printed.
test: export QT_QPA_PLATFORM ?= offscreen
test: venv
	@bash .ci/sysdeps.sh offscreen openssl
	timeout -k 30 1500 $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Runs all three, then fails if any did.
lint: venv
	@rc=0; \
	echo "ruff check ."; $(BIN)/ruff check . || rc=1; \
	echo "mypy"; $(BIN)/mypy || rc=1; \
	echo "lint-imports"; $(BIN)/lint-imports --no-logo || rc=1; \
	exit $$rc

# Everything of docs/stack-notes.md §2: offscreen, real window, and Xvfb for screenshots.
sysdeps:
	bash .ci/sysdeps.sh xvfb

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
