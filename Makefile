# Two commands matter: `make demo` and `make test`. Both build .venv themselves.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Airflow's environment (home under the repo, SQLite, LocalExecutor) is defined once, in
# aiops.dev.local_airflow; `eval "$$(.venv/bin/aiops airflow-env)"` exports it into a shell.
export AIOPS_HOME := $(CURDIR)/out

.PHONY: setup demo test test-unit test-integration bench lint clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml tests/browser/package-lock.json
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m aiops.scaler.proto  # gRPC stubs from include/proto (gitignored)
	$(PY) -m pip check
	@# the real Mermaid the tests draw the issues' charts with, in headless Chromium
	@if command -v npm >/dev/null; then npm ci --prefix tests/browser --no-audit --no-fund --silent; \
	else echo "setup: npm not found: the Mermaid rendering test will fail (apt-get install npm)" >&2; fi
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/aiops demo

# Unit tests first (in-process, a few minutes); the integration tests (a real Prometheus, a
# real Airflow, a Celery cluster on loopback PostgreSQL and Redis) only once they pass, a
# module per xdist worker in the order tests/integration/conftest.py gives them.
TEST_WORKERS ?= 2
INTEGRATION := tests/integration -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

test: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)
	$(PY) -m pytest $(INTEGRATION) $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest $(INTEGRATION) $(PYTEST_ARGS)

bench: setup
	@set -e; for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f; done

lint: setup
	$(VENV)/bin/ruff check plugins dags tests bench
	$(VENV)/bin/ruff format --check plugins dags tests bench

clean:
	rm -rf out .airflow .pytest_cache
