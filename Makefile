# One task runner: `make demo` (the main job) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STORE ?= ./tracker-store
SITE ?= site
# the demo: the example experiments, built with the demo's settings (reports, comparisons)
DEMO_EXAMPLES := examples/quickstart.py examples/sweep.py
DEMO_CONFIG := examples/tracker-report.toml
# real MLflow, in its own venv (it pins another pyarrow): the import tests run its server
MLFLOW_VENV ?= .bench/mlflow-venv
MLFLOW_SPEC ?= mlflow[auth]>=3,<4
# the autologging integrations' frameworks: their tests run in a venv of their own (and MLflow's
# venv has them too, for the same scripts under MLflow); xgboost-cpu is XGBoost without CUDA
FRAMEWORKS_VENV ?= .bench/frameworks-venv
FRAMEWORKS_SPEC ?= 'xgboost-cpu>=2' 'lightgbm>=4' torch==2.13.0 'lightning>=2'

.PHONY: install mlflow frameworks pytest-frameworks demo demo-install demo-store demo-site screenshots test lint typecheck \
	pytest flaky-check bench clean vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'

mlflow: $(MLFLOW_VENV)/bin/mlflow
	$(MLFLOW_VENV)/bin/python -m pip install -q '$(MLFLOW_SPEC)' $(FRAMEWORKS_SPEC)  # a no-op once there

$(MLFLOW_VENV)/bin/mlflow:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install -q '$(MLFLOW_SPEC)'

frameworks: $(FRAMEWORKS_VENV)/bin/python
	$(FRAMEWORKS_VENV)/bin/python -m pip install -q -e '.[sklearn,images]' pytest hypothesis \
	  $(FRAMEWORKS_SPEC)

$(FRAMEWORKS_VENV)/bin/python:
	$(PYTHON) -m venv $(FRAMEWORKS_VENV)
	$(FRAMEWORKS_VENV)/bin/python -m pip install -q --upgrade pip

## demo: install, log the example experiments into ./tracker-store, build ./site
demo: demo-install
	$(MAKE) demo-store demo-site

demo-install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[sklearn,images]'

demo-store:
	for example in $(DEMO_EXAMPLES); do \
	  TRACKER_TRACKING_URI=$(STORE) $(BIN)/python $$example || exit 1; done

demo-site:
	$(BIN)/tracker-report build --config $(DEMO_CONFIG) --store $(STORE) --out $(SITE)

## screenshots: docs/screenshots/*.png of each page kind of the demo site, in chromium
## (reuses ./tracker-store when it is there; `make demo` first for a fresh one)
screenshots: install
	test -f $(STORE)/store.json || $(MAKE) demo-store
	$(MAKE) demo-site
	$(BIN)/python tools/screenshots.py --site $(SITE) --out docs/screenshots \
	  --experiment digits_sgd --run candidate-1 --compare baseline,candidate-1,candidate-2

## test: install, lint, type-check and run every test (tests/frameworks/ in the frameworks' venv)
test: install mlflow frameworks lint typecheck pytest pytest-frameworks

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check reporter tests
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy --no-incremental

pytest:
	$(BIN)/pytest

pytest-frameworks:
	TRACKER_FRAMEWORK_TESTS=1 $(FRAMEWORKS_VENV)/bin/pytest tests/frameworks

## flaky-check: run the multi-process, kill, browser and server tests ROUNDS times, the last
## LOADED of them beside HOGS CPU-spinning processes; lists every test that ever failed
ROUNDS ?= 5
LOADED ?= 2
HOGS ?= 2
flaky-check: install mlflow
	$(BIN)/python tests/flaky_check.py --rounds $(ROUNDS) --loaded $(LOADED) --hogs $(HOGS) $(TESTS)

## bench: compare with MLflow (installs it in its own venv under .bench/)
bench: install
	$(BIN)/python benchmarks/bench_tracking.py

clean:
	rm -rf $(VENV) .bench site tracker-store .pytest_cache .mypy_cache .ruff_cache

## vendor: refresh vega, vega-lite and vega-embed in the default theme (versions from Altair)
VENDOR := themes/default/static/vendor
vendor: install
	@set -e; VL=$$($(BIN)/python -c 'import altair; print(altair.VEGALITE_VERSION)'); \
	tmp=$$(mktemp -d); cd $$tmp; \
	npm pack -q vega@6 vega-lite@$$VL vega-embed@7 >/dev/null; \
	for f in *.tgz; do mkdir -p $${f%.tgz}; tar xzf $$f -C $${f%.tgz}; done; cd - >/dev/null; \
	for pkg in vega vega-lite vega-embed; do \
	  dir=$$(ls -d $$tmp/$$pkg-[0-9]*); \
	  sed 's|^//# sourceMappingURL=.*$$||' $$dir/package/build/$$pkg.min.js > $(VENDOR)/$$pkg.min.js; \
	  cp $$dir/package/LICENSE $(VENDOR)/LICENSE-$$pkg.txt; \
	done; \
	$(BIN)/python -c "import json,sys,glob; print(json.dumps({p: json.load(open(glob.glob('$$tmp/'+p+'-[0-9]*/package/package.json')[0]))['version'] for p in ['vega','vega-lite','vega-embed']}))" > $(VENDOR)/VERSIONS.json; \
	rm -rf $$tmp; cat $(VENDOR)/VERSIONS.json
