# Every routine task. `make setup` is idempotent: it rebuilds only when the lock files change.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
# The functions' runtime (stacks/constructs/functions.py deploys python3.13): the virtualenv, and so the offline
# run, uses the same minor version. Chosen in this order: python3.13 on PATH (a pyenv shim counts only if it
# runs), pyenv's newest 3.13, else python3 with a warning -- `bft local-run --json` then reports the mismatch.
RUNTIME_PYTHON := 3.13
ifeq ($(origin PYTHON),undefined)
PYTHON := $(shell \
  if found=$$(python$(RUNTIME_PYTHON) -c 'import sys; print(sys._base_executable)' 2>/dev/null); then echo "$$found"; \
  elif command -v pyenv >/dev/null && prefix=$$(pyenv prefix $(RUNTIME_PYTHON) 2>/dev/null) \
    && [ -x "$$prefix/bin/python$(RUNTIME_PYTHON)" ]; then echo "$$prefix/bin/python$(RUNTIME_PYTHON)"; \
  else echo python3; fi)
endif
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
ifneq ($(PYTHON_VERSION),$(RUNTIME_PYTHON))
$(warning *** $(PYTHON) is Python $(PYTHON_VERSION), not $(RUNTIME_PYTHON) as the functions deploy: \
install python$(RUNTIME_PYTHON) (or `pyenv install $(RUNTIME_PYTHON)`) and run `make setup` again. ***)
endif
BIN := $(CURDIR)/$(VENV)/bin
# The functions' wheels (requirements-layer.lock) for their architecture, ARM_64; read by stacks/constructs/functions.py.
LAYER_WHEELS := .layer-wheels
LAYER_PLATFORM := manylinux_2_17_aarch64
# Node 22 and the CDK CLI come from node_modules; jsii finds `node` on PATH.
export PATH := $(CURDIR)/node_modules/.bin:$(BIN):$(PATH)
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

# Where the environments' YAML files live: the rule of app.py and every `bft` command (bft.config.resolve_config_dir):
# CONFIG_DIR=<dir> on the make command line, else BFT_CONFIG_DIR, else this checkout's config/. Exported, so cdk and
# bft read the same directory.
CONFIG_DIR ?= $(or $(BFT_CONFIG_DIR),$(CURDIR)/config)
export BFT_CONFIG_DIR := $(abspath $(CONFIG_DIR))
ENVS = $(sort $(basename $(notdir $(wildcard $(BFT_CONFIG_DIR)/*.yaml))))
SCENARIO ?= success
# Empty: the scenario's own model, else Nova Micro in us-east-1 (fine-tunable today, served on demand).
MODEL ?=
PYTEST_ARGS ?=
# `make smoke ENV=<env>`: only a command-line ENV counts, since POSIX shells use an ENV variable of their own
# (a startup file) that would otherwise name the environment.
SMOKE_ENV := $(if $(filter command line,$(origin ENV)),$(ENV),dev)
# `make check-config ENV=<env>` (or ENV="dev prod"): those environments; without ENV, every one of the config directory.
CHECK_ENV := $(if $(filter command line,$(origin ENV)),$(ENV),)
QUICK ?=
YES ?=

.PHONY: help setup synth test check check-config lint typecheck docs docs-tables docs-serve demo smoke bench wheel lock clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(VENV)/.installed-$(PYTHON_VERSION) node_modules/.installed $(LAYER_WHEELS)/.fetched ## install Python (.venv) and Node 22 + CDK CLI (node_modules), pinned; fetch the functions' orjson wheel

# The stamp names the interpreter's version: a virtualenv of another version is rebuilt, not reused.
$(VENV)/.installed-$(PYTHON_VERSION): requirements.lock pyproject.toml
	@if [ -x $(BIN)/python ] && [ "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYTHON_VERSION)" ]; then \
	  echo "rebuilding $(VENV) with Python $(PYTHON_VERSION)"; rm -rf $(VENV); fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# Read by the offline run's summary and its test: was the runtime's version found, or the fallback used?
	@if [ "$(PYTHON_VERSION)" = "$(RUNTIME_PYTHON)" ]; then echo runtime; else echo fallback; fi > $(VENV)/bft-python-choice
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

# The wheels the functions' package layer ships (requirements-layer.lock: orjson), for the functions' runtime, not
# this machine: CPython 3.13 on ARM_64. Synthesis unpacks them offline and fails without them
# (stacks/constructs/functions.py); the hashes make pip refuse any other file.
$(LAYER_WHEELS)/.fetched: requirements-layer.lock $(VENV)/.installed-$(PYTHON_VERSION)
	rm -rf $(LAYER_WHEELS)
	$(BIN)/python -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
	  --only-binary=:all: --platform $(LAYER_PLATFORM) --implementation cp --python-version $(RUNTIME_PYTHON) \
	  --abi cp$(subst .,,$(RUNTIME_PYTHON)) -r requirements-layer.lock -d $(LAYER_WHEELS)
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	node --version | grep -q '^v22\.'
	touch $@

synth: setup ## synthesize every environment of the config directory into cdk.out/<env> (fails on cdk-nag errors)
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

check: lint typecheck docs test check-config ## ruff, mypy, the docs site, the tests and check-config on every environment: what CI runs

check-config: setup ## validate, synthesize (cdk-nag), cfn-lint, checkov and run offline ENV's config (default: every environment; QUICK=1: validate + synth + cdk-nag)
	$(BIN)/bft config check $(foreach env,$(CHECK_ENV),--env $(env)) $(if $(QUICK),--quick)

# Material for MkDocs prints a banner about its successor on every build; the build's own warnings still show.
docs: setup ## build the docs site into site/ (mkdocs --strict: a broken link or anchor fails)
	$(BIN)/python scripts/docs_tables.py --check
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-tables: setup ## rewrite the docs' generated tables (scenarios, outcomes) from the code
	$(BIN)/python scripts/docs_tables.py

docs-serve: setup ## serve the docs site on http://127.0.0.1:8000, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

demo: setup ## run the pipeline end to end offline (SCENARIO=<name> for a failure path, MODEL=<id> for another model)
	$(BIN)/bft local-run --scenario $(SCENARIO) $(if $(MODEL),--model '$(MODEL)')

smoke: setup ## real-account smoke test: deploy or reuse ENV's stacks, train a tiny job served on demand (else 1 no-commitment model unit), evaluate, tear down (YES=1: no prompt)
	$(BIN)/bft smoke --env $(SMOKE_ENV) $(if $(YES),--yes)

bench: setup ## run the benchmarks (each prints a ratio against a baseline measured in the same run)
	$(BIN)/python benchmarks/validate_bench.py
	$(BIN)/python benchmarks/wait_cost_bench.py
	$(BIN)/python benchmarks/teams_synth_bench.py
	$(BIN)/python benchmarks/cost_baseline.py
	$(BIN)/python benchmarks/evaluation_scale_bench.py

wheel: setup ## build the wheel teams install the CLI from (dist/bedrock_fine_tuning-<version>-py3-none-any.whl)
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation -w dist .
	@ls dist/*.whl

lock: ## re-resolve the Python lock after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml --extra local --extra dev --generate-hashes --python-version $(RUNTIME_PYTHON) \
	  -o requirements.lock -q

clean:
	rm -rf cdk.out site .pytest_cache .mypy_cache .ruff_cache dist build
