"""A job's identity, without running it: its tasks, the Encoder options it builds, the key and folder of its
results, and the columns every row records (configuration, code, fingerprints). The runner, the experiment
drivers, the cost plan and the prefetcher read these; none of them imports the runner (Hydra's entry point,
the encoders, mteb's evaluation, W&B) to know what a job is or where its results go.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from ..backbones import Backbone
from ..eval.tasks import DataLocations, benchmark_task_names, data_source, task_type
from ..provenance import code_version, git_commit
from ..recipe import Recipe
from ..store import fingerprint, results
from .config import RunConfig

CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")  # package data: works when pip-installed


def task_names(run: RunConfig) -> list[str]:
    names = list(run.benchmark.tasks)
    if run.benchmark.mteb_benchmark:
        names += [n for n in benchmark_task_names(run.benchmark.mteb_benchmark) if n not in names]
    return names


def encoder_options(run: RunConfig) -> dict[str, Any]:
    """Keyword arguments for Encoder.from_pretrained: the method, its overrides (one object), the backbone's
    loading and the input settings."""
    return dict(method=run.method.name.value, overrides=run.overrides, dtype=run.backbone.dtype.value,
                device=run.device, max_length=run.max_length, padding_side=run.padding_side.value,
                revision=run.backbone.revision)


def result_key(run: RunConfig) -> dict[str, Any]:
    """Everything that changes the scores (not batch size, device or logging); the method overrides in their
    canonical form, so two spellings of one setting (``bias=1``, ``bias=1.0``) are one configuration."""
    opts = {k: v for k, v in encoder_options(run).items() if k not in ("device", "overrides")}
    return {"backbone": run.backbone.name, **opts, "overrides": run.overrides.canonical(),
            "use_instructions": run.use_instructions, "limit": run.benchmark.limit,
            **DataLocations(run.benchmark.data).key(), "split": run.benchmark.split,
            # rows read from original files, not the hub's copies
            "local_data": uses_local_data(run)}


def uses_local_data(run: RunConfig) -> bool:
    """Whether some task of the job is read from a data folder of original files."""
    return any(data_source(t, run.benchmark.data) == "local files" for t in task_names(run))


def result_folder(run: RunConfig) -> tuple[str, Path]:
    """The configuration hash and the result folder of a job: computed here, and only here."""
    key = results.config_hash(result_key(run))
    return key, results.run_dir(Path(run.results_dir), run.benchmark.name, run.backbone.name, run.method.name.value,
                                key)


def job_metadata(run: RunConfig, key: str, info: dict[str, Any]) -> dict[str, Any]:
    """The columns every row of a job carries: who ran what, with which code, configuration and layers."""
    described = {k: info.get(k) for k in RECORDED_ENCODER_FIELDS}
    described["revision"] = str(info.get("revision"))
    return {
        "run_id": uuid.uuid4().hex[:12], "experiment": run.experiment, "benchmark": run.benchmark.name,
        "config_hash": key, "overrides": overrides_column(run), "git_commit": git_commit(),
        "code_version": code_version("scores"),  # the source text (provenance); a row's identity: fingerprint
        "versions": results.package_versions(),
        **described, "use_instructions": run.use_instructions, "max_length": run.max_length,
        "batch_size": run.batch_size, "limit": run.benchmark.limit, "workers": run.workers,
        "cache_mode": run.cache,
    }


def overrides_column(run: RunConfig) -> str:
    """The ``overrides`` column: the settings the user set, canonical JSON (``{}`` = the method as stated);
    reports select runs by it (``kvembed.store.results.settings``)."""
    return json.dumps(run.overrides.canonical(), sort_keys=True)


# Encoder.describe() fields stored with every result row: the backbone's and the recipe's columns (layers,
# id_curve and tp_layers as list columns), and the padding side; max_length is the run's
RECORDED_ENCODER_FIELDS = (*Backbone.COLUMNS, *Recipe.column_names(), "padding_side")


def task_fingerprints(run: RunConfig, names: list[str]) -> dict[str, dict[str, str]]:
    """The fingerprint columns each task's rows get from this code (kvembed.store.fingerprint)."""
    prints = fingerprint.current()
    method, chosen = run.method.name.value, run.overrides.canonical()
    return {name: prints.row(method, chosen, task_type(name), run.use_instructions) for name in names}
