# Pilot Desktop. `make run` installs the app and launches it; `make test` / `make lint` install
# the test and dev tools too and run the tests / the linters.
SHELL := /bin/bash

VENV := .venv
BIN := $(VENV)/bin
# Two stamps: what the app needs (make run), and that plus the test and dev tools (make
# test, make lint). Each is redone only when pyproject.toml is newer than it.
STAMP_APP := $(VENV)/.installed-app
STAMP_DEV := $(VENV)/.installed-dev
# python3.11 if it works, else python3 (or a newer 3.x); must be >= 3.11.
PYTHON ?= $(shell for p in python3.11 python3 python3.12 python3.13; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { echo $$p; break; }; done)
PIP := $(BIN)/python -m pip install --disable-pip-version-check

ARGS ?=
PYTEST_ARGS ?=

.PHONY: venv venv-dev run test lint sysdeps clean

# The virtual environment itself, with an up-to-date pip.
define make_venv
	@if [ -z "$(PYTHON)" ]; then \
		echo "error: Python >= 3.11 not found (tried python3.11, python3, python3.12, python3.13)" >&2; \
		exit 1; fi
	@if ! $(BIN)/python -m pip --version >/dev/null 2>&1; then \
		$(PYTHON) -m ensurepip --version >/dev/null 2>&1 || bash .ci/sysdeps.sh none python3-venv; \
		echo "creating $(VENV) with $(PYTHON)"; \
		rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(PIP) -q --upgrade pip
endef

venv: $(STAMP_APP)
venv-dev: $(STAMP_DEV)

# The app and the ngrok extra (tunnel mode ngrok-sdk: the app offers it out of the box).
# When the dev set is already installed and current, it holds the app too: nothing to do.
$(STAMP_APP): pyproject.toml
	@if [ -f $(STAMP_DEV) ] && [ $(STAMP_DEV) -nt pyproject.toml ]; then touch $@; exit 0; fi; \
		$(MAKE) --no-print-directory _install-app

.PHONY: _install-app
_install-app:
	$(make_venv)
	$(PIP) -e '.[ngrok]'
	@touch $(STAMP_APP)

# The app plus the test and dev tools (pytest, ruff, mypy, import-linter, the tests' SDK).
$(STAMP_DEV): pyproject.toml
	$(make_venv)
	$(PIP) -e '.[test,dev,ngrok]'
	@touch $(STAMP_DEV) $(STAMP_APP)

run: venv
	@bash .ci/sysdeps.sh window || \
		echo "warning: Qt system libraries missing (see above); starting anyway" >&2
	$(BIN)/pilot-desktop $(ARGS)

# The system libraries the tests need (Qt's offscreen platform, openssl for the TLS probe
# tests), installed when missing: as root, through sudo, or the exact command is printed.
test: export QT_QPA_PLATFORM ?= offscreen
test: venv-dev
	@bash .ci/sysdeps.sh offscreen openssl
	timeout -k 30 1740 $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Runs all three, then fails if any did.
lint: venv-dev
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
