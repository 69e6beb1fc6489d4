# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV := var/dev.env

.PHONY: run test test-fast lint test-deps benchmark

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --editable '.[dev]'
	touch $@

$(DEV_ENV): | $(BIN)/.installed
	$(BIN)/python -m portal.devenv $(DEV_ENV)

## Run the portal, a Celery worker, Celery beat and the Outreach sandbox; Ctrl-C stops them all.
run: $(BIN)/.installed $(DEV_ENV)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho --env $(DEV_ENV) run python manage.py migrate --noinput
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/honcho --env $(DEV_ENV) --procfile Procfile.dev start

## What the tests need beyond Python packages: Debian's Chromium for the browser tests.
test-deps: $(BIN)/.installed
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium)" >&2; exit 1; fi; }

## The whole suite, on PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379).
test: test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/pytest $(PYTEST_ARGS)

## What needs no server, database, broker or browser (the rules, parsers, fixtures): seconds.
test-fast: $(BIN)/.installed
	$(BIN)/pytest -q -m fast $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## The pipeline benchmark on real processes (PostgreSQL + Redis on 127.0.0.1); see bench/pipeline.py.
benchmark: $(BIN)/.installed
	$(BIN)/python -m bench.pipeline $(BENCH_ARGS)
