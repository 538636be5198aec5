# Two commands matter: `make run` starts the whole system, `make test` runs the whole suite.
# Both set up what they need first: uv, the virtual environment, databases, migrations.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTHON := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
export PYTHONUNBUFFERED := 1

SANDBOX_DATA := data/ml-100k
RECBOLE_WHEEL := data/downloads/recbole-1.2.1-py3-none-any.whl

.PHONY: help setup uv venv infra browser migrate sandbox-data run test screenshots eval bench chaos stop-check compose-check ha-check lint format clean

help:
	@echo "make run    - set up and start every service on loopback (gateway on :8000)"
	@echo "make test   - set up and run the whole test suite (installs headless Chromium if missing)"
	@echo "make screenshots - the web client's main pages into docs/screenshots/"
	@echo "make eval   - offline recommendation quality (BENCHMARKS.md)"
	@echo "make bench  - throughput and latency with wrk (BENCHMARKS.md)"
	@echo "make chaos  - faults under traffic: restarts PostgreSQL, Redis, RabbitMQ (RELIABILITY.md)"
	@echo "make stop-check - SIGTERM to every service under write traffic, 3 times each (RELIABILITY.md)"
	@echo "make compose-check - build every image, run compose with 2 replicas each, check (DEPLOYMENT.md)"
	@echo "make ha-check - the stores replicated, each one's leading node killed under traffic (DEPLOYMENT.md)"
	@echo "make lint   - ruff and mypy"
	@echo "make migrate - create databases and run migrations"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		{ echo "setup: installing uv"; python3 -m pip install --quiet --disable-pip-version-check uv; }

venv: uv
	@$(UV) sync --frozen --quiet
	@echo "setup: virtual environment is up to date"

infra:
	@bash tools/ensure-infra.sh

browser:
	@bash tools/ensure-browser.sh

migrate: venv infra
	@$(PYTHON) tools/migrate.py

# MovieLens 100K for the TMDb sandbox, from the recbole wheel on PyPI (never committed).
sandbox-data: venv
	@if ! $(PYTHON) -m tmdb_sandbox check; then \
		echo "setup: fetching MovieLens 100K (recbole 1.2.1 wheel) for the TMDb sandbox"; \
		[ -f $(RECBOLE_WHEEL) ] || python3 -m pip download --quiet --no-deps --disable-pip-version-check \
			recbole==1.2.1 -d data/downloads; \
		$(PYTHON) -m tmdb_sandbox extract $(RECBOLE_WHEEL) $(SANDBOX_DATA); \
	fi

setup: venv infra migrate sandbox-data

run: setup
	@echo "run: gateway http://127.0.0.1:8000 (docs at /docs); Ctrl-C stops everything"
	@exec $(PYTHON) tools/supervise.py

test: setup browser
	@$(PYTHON) -m pytest

# The browser test, saving the web client's main pages for README.md.
screenshots: setup browser
	@WEB_SCREENSHOTS_DIR=docs/screenshots $(PYTHON) -m pytest -q tests/e2e/test_web_client.py -k new_user

# Offline recommendation quality on MovieLens 100K; writes its table into BENCHMARKS.md.
# Each tool runs as a module of the repository (python -m tools.X), so `tools` imports resolve.
# ARGS passes options on: `make eval ARGS="--users 50"` is a quick check that writes nothing.
eval: venv sandbox-data
	@$(PYTHON) -m tools.evaluate_recommendations $(ARGS)

lint: venv
	@$(UV) run --frozen ruff check shared services tools tests testsupport
	@$(UV) run --frozen ruff format --check shared services tools tests testsupport
	@$(UV) run --frozen mypy shared/shared services/auth/auth services/catalog/catalog services/library/library services/gateway/gateway services/recommendations/recommendations services/notifications/notifications tools/tmdb_sandbox/tmdb_sandbox tools/*.py testsupport

format: venv
	@$(UV) run --frozen ruff format shared services tools tests testsupport
	@$(UV) run --frozen ruff check --fix shared services tools tests testsupport

clean:
	rm -rf .venv .pytest_cache .ruff_cache .mypy_cache

# Throughput and latency with wrk against its own stack; writes its table into BENCHMARKS.md.
bench: setup
	@$(PYTHON) -m tools.bench $(ARGS)

# Restarts this machine's PostgreSQL, Redis and RabbitMQ under traffic (RELIABILITY.md).
chaos: setup
	@$(PYTHON) -m tools.chaos $(ARGS)

stop-check: setup
	@$(PYTHON) -m tools.stop_check $(ARGS)

# Builds every image, runs the compose stack with two replicas of each service, checks it and
# writes DEPLOYMENT.md; starts (and stops) a Docker engine if none answers. Not in make test.
compose-check: venv sandbox-data
	@$(PYTHON) -m tools.compose_check $(ARGS)

# The stores replicated (RabbitMQ cluster, Redis with Sentinel, PostgreSQL under Patroni), each
# store's leading node killed under traffic (DEPLOYMENT.md). Not part of make test.
ha-check: venv sandbox-data
	@$(PYTHON) -m tools.ha_check $(ARGS)
