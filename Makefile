# The two commands: `make run` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint format bench screens install install-dev clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

## make run: migrate the SQLite database, load demo data if empty, serve with the scheduler
run: $(RUN_STAMP)
	$(FLASK) db upgrade
	$(FLASK) demo load --if-empty
	$(FLASK) serve --host 127.0.0.1 --port 5000

## make test: the whole suite (PostgreSQL when CLINIC_TEST_DATABASE_URL is set)
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

## make lint: style, types (mypy over clinic/) and the import layers (lint-imports)
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make screens: screenshots of the main pages into docs/screens/ (taken by the browser
## tests' accessibility sweep, which visits them all with a working day's data)
screens: $(DEV_STAMP)
	CLINIC_SCREENS=docs/screens $(BIN)/python -m pytest tests/browser/test_accessibility.py -q

## make bench: performance goals as ratios against a bare stack (see README "Performance");
## wrk, the load generator, comes from Debian
bench: $(DEV_STAMP)
	@command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

## make translations: refresh the Spanish catalog from the marked words (babel.cfg), compile it
translations: $(DEV_STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext --no-location -o clinic/translations/messages.pot .
	$(BIN)/pybabel update -i clinic/translations/messages.pot -d clinic/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d clinic/translations --statistics
