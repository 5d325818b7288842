# Every routine task. `make setup` is idempotent: it rebuilds only when the lock files change.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PYTHON ?= python3
BIN := $(CURDIR)/$(VENV)/bin
# Node 22 and the CDK CLI come from node_modules; jsii finds `node` on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

ENVS := local local-us-east-1 dev staging prod
SCENARIO ?= success
# Empty: the scenario's own model, else Nova Micro in us-east-1 (fine-tunable today, served on demand).
MODEL ?=
PYTEST_ARGS ?=

.PHONY: help setup synth test check lint typecheck demo bench lock clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(VENV)/.installed node_modules/.installed ## install Python (.venv) and Node 22 + CDK CLI (node_modules), pinned

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	node --version | grep -q '^v22\.'
	touch $@

synth: setup ## synthesize every environment into cdk.out/<env> (fails on cdk-nag errors)
	@for env in $(ENVS); do \
	  echo "synth $$env"; \
	  cdk synth --quiet -c env=$$env --output cdk.out/$$env >/dev/null; \
	done

test: setup ## run every test
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy
	@# Every handler is a module named `handler`: check them one at a time.
	@for f in lambda/*/handler.py; do $(BIN)/mypy --no-error-summary "$$f" || exit 1; done

check: lint typecheck test ## ruff, mypy and the tests: what CI runs

demo: setup ## run the pipeline end to end offline (SCENARIO=<name> for a failure path, MODEL=<id> for another model)
	$(BIN)/bft local-run --scenario $(SCENARIO) $(if $(MODEL),--model '$(MODEL)')

bench: setup ## run the benchmarks (each prints a ratio against a baseline measured in the same run)
	$(BIN)/python benchmarks/validate_bench.py
	$(BIN)/python benchmarks/wait_cost_bench.py
	$(BIN)/python benchmarks/teams_synth_bench.py
	$(BIN)/python benchmarks/cost_baseline.py

lock: ## re-resolve the Python lock after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra local --extra dev --generate-hashes --python-version 3.11 \
	  -o requirements.lock -q

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
