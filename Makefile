# The two set-up commands of the README, and a few helpers.
# Everything runs in a virtual environment in .venv (override with VENV=...).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# make demo PORT=8051: the demo on another port (default: the setting web.port, 8050).
PORT ?=

## make demo: install the app and start the demo (SQLite, simulated cyclers) on http://127.0.0.1:8050
demo: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/bem demo $(if $(PORT),--port $(PORT))

## make test: install the test dependencies (and Chromium when missing) and run the whole suite
test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	bash tests/install-browser.sh
	$(BIN)/python -m pytest

## make test-fast: the unit tests, no servers, no browser, no real-time simulation (about a minute)
test-fast: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pytest -q -m "not mariadb and not mqtt and not browser and not slow"

## make lint: style (ruff), types (mypy, product code) and the layer contracts (import-linter)
lint: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(BIN)/python
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/python
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
