# make dev    the whole platform locally (Ctrl-C stops it)      make test   the test suite
# make bench  import-time and throughput benchmarks             make lint   static checks
# make openapi  regenerate shared/openapi.json                 make stop   stop a stray dev stack
# Each target installs what it needs first: Debian packages (scripts/install-system.sh), the
# project virtualenv .venv (reinstalled when pyproject.toml changes) and .venv-tasks (the
# Cloud Tasks emulator pins protobuf<5, so it lives apart).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
TASKS_VENV := .venv-tasks
TASKS_EMULATOR := gcloud-tasks-emulator>=0.6.2,<0.7
# API conformance fuzzing (tests/e2e/test_api_conformance.py); its own venv: it pins hypothesis
# and HTTP client versions the project should not inherit.
SCHEMATHESIS_VENV := .venv-schemathesis
SCHEMATHESIS := schemathesis==4.32.5
# Generated-client test (tests/e2e/test_generated_client.py): the generator in its own venv, so
# its pins (typer, ruamel, httpx) stay out of the project's.
OPENAPI_CLIENT_VENV := .venv-openapi-client
OPENAPI_CLIENT := 'openapi-python-client==0.29.1' 'python-dateutil>=2.8,<3'
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: dev test bench lint openapi install system stop clean

dev: install
	$(VENV)/bin/python scripts/dev.py

test: install
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: install
	$(VENV)/bin/python scripts/bench.py

lint: install
	bash scripts/lint.sh

# Regenerate shared/openapi.json from the functions' route declarations.
openapi: $(VENV)/.installed
	$(VENV)/bin/python scripts/openapi.py

install: system $(VENV)/.installed $(TASKS_VENV)/.installed $(SCHEMATHESIS_VENV)/.installed \
	$(OPENAPI_CLIENT_VENV)/.installed

system:
	@bash scripts/install-system.sh

$(VENV)/.installed: pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $@

$(TASKS_VENV)/.installed: Makefile
	@test -x $(TASKS_VENV)/bin/python || $(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/pip install $(PIP_FLAGS) '$(TASKS_EMULATOR)'
	@touch $@

$(SCHEMATHESIS_VENV)/.installed: Makefile
	@test -x $(SCHEMATHESIS_VENV)/bin/python || $(PYTHON) -m venv $(SCHEMATHESIS_VENV)
	$(SCHEMATHESIS_VENV)/bin/pip install $(PIP_FLAGS) '$(SCHEMATHESIS)'
	@touch $@

$(OPENAPI_CLIENT_VENV)/.installed: Makefile
	@test -x $(OPENAPI_CLIENT_VENV)/bin/python || $(PYTHON) -m venv $(OPENAPI_CLIENT_VENV)
	$(OPENAPI_CLIENT_VENV)/bin/pip install $(PIP_FLAGS) $(OPENAPI_CLIENT)
	@touch $@

# Stop a dev stack left running from .local/ (normally Ctrl-C on `make dev` does this).
stop:
	@test -x $(VENV)/bin/python && $(VENV)/bin/python scripts/stack.py down || true

clean: stop
	rm -rf .local $(TASKS_VENV)
