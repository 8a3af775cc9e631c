# One task runner: `make demo` (the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= ./tracker-store

.PHONY: install demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'

## demo: install, log the example experiments into ./tracker-store
demo: install
	TRACKER_TRACKING_URI=$(STORE) $(BIN)/python examples/quickstart.py

## test: install, lint, type-check and run every test
test: install lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check reporter

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

## bench: compare with MLflow (installs it in its own venv under .bench/)
bench: install
	$(BIN)/python benchmarks/bench_tracking.py

clean:
	rm -rf $(VENV) .bench site tracker-store .pytest_cache .mypy_cache .ruff_cache
