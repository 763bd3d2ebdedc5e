"""The Hydra runner: compose → validate → Encoder → each task through mteb → parquet + W&B.

    python -m kvembed.run backbone=smollm2-135m method=kvembed benchmark=offline
    python -m kvembed.run -m bias=0,0.5,1,2            # one job per value, one file per task per job
    python -m kvembed.run experiment=table1_offline     # a named paper experiment (a multirun)
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import hydra
import mteb
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from ..backbones import Backbone
from ..encoder import Encoder, TextEncoder
from ..eval import geometry, item_scores
from ..eval.mteb_model import MTEBEncoder
from ..eval.tasks import benchmark_task_names, data_source, get_task, load_task_data, task_type
from ..eval.tasks.offline import PROXY_TASKS
from ..parallel import ParallelEncoder
from ..paths import cache_dir
from ..provenance import code_version, git_commit
from ..recipe import Recipe
from . import fingerprint, results
from .config import RunConfig, validate
from .tracking import Tracker

log = logging.getLogger("kvembed.harness.run")
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
            "offline_data": run.benchmark.offline_data, "data_dir": run.benchmark.data_dir,
            "split": run.benchmark.split,
            # rows read from original files, not the hub's copies
            "local_data": uses_local_data(run)}


def uses_local_data(run: RunConfig) -> bool:
    """Whether some task of the job is read from a data folder of original files (a LoCoV1 fixture's
    ``data_dir`` wins over the data folder, so its jobs keep their key whether or not one is set)."""
    b = run.benchmark
    return any(data_source(t, b.offline_data, b.data_root, b.data_dir) == "local files" for t in task_names(run))


def result_folder(run: RunConfig) -> tuple[str, Path]:
    """The configuration hash and the result folder of a job: computed here, and only here."""
    key = results.config_hash(result_key(run))
    return key, results.run_dir(Path(run.results_dir), run.benchmark.name, run.backbone.name, run.method.name.value,
                                key)


def _peak_memory_mb(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB → MiB (process peak)


def build_encoder(run: RunConfig) -> TextEncoder:
    """The job's encoder: one process, or data-parallel workers; with the embedding cache if asked for."""
    opts = encoder_options(run)
    if run.workers > 1:
        device = opts.pop("device")
        devices = None if device == "auto" else [device] * run.workers
        encoder: TextEncoder = ParallelEncoder(run.backbone.name, opts.pop("method"), workers=run.workers,
                                               devices=devices, **opts)
    else:
        encoder = Encoder.from_pretrained(run.backbone.name, **opts)
    if run.cache != "off":
        encoder.use_cache(cache_dir("embeddings"), run.cache)
    return encoder


@dataclass
class TaskOutcome:
    """One evaluated task: its long-format rows (scores + run metadata), per-item scores (or None) and
    mteb's own result object."""

    name: str
    rows: pd.DataFrame
    items: pd.DataFrame | None
    task_result: Any = None


def evaluate_task(run: RunConfig, name: str, model: MTEBEncoder, job: dict[str, Any]) -> TaskOutcome:
    """Run one task through mteb and collect its scores, per-item scores, geometry and metadata."""
    encoder = model.model
    info = encoder.describe()
    task = get_task(name, limit=run.benchmark.limit, offline_data=run.benchmark.offline_data,
                    data_dir=run.benchmark.data_dir, split=run.benchmark.split, data_root=run.benchmark.data_root)
    load_task_data(task)
    if info["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    before = dict(encoder.stats)
    model.record(item_scores.supports(task))
    start = time.perf_counter()
    result = mteb.evaluate(model, [task], cache=None, overwrite_strategy="always",
                           encode_kwargs={"batch_size": run.batch_size}, show_progress_bar=False)
    wall = time.perf_counter() - start
    task_result = result.task_results[0]
    rows = results.flatten_scores(task_result)
    try:
        items = item_scores.task_items(task, model.lookup) if model.recorded is not None else None
    except KeyError as err:  # the task's score stands; only its per-item scores are missing
        log.warning("%s: no per-item scores (%s)", name, err)
        items = None
    if items is not None and task.metadata.type == "STS":  # embedding geometry for the figures
        split = task.eval_splits[0]
        rows += [{"split": split, "subset": "default", "metric": f"geometry_{k}", "value": v, "is_main": False}
                 for k, v in geometry.sts_geometry(task, model.lookup).items()]
    model.record(False)
    tokens = encoder.stats["tokens"] - before["tokens"]
    enc_seconds = encoder.stats["seconds"] - before["seconds"]
    meta = {
        **job, "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "task_name": name, "task_type": task.metadata.type, "is_proxy": name in PROXY_TASKS,
        "data_source": data_source(name, run.benchmark.offline_data, run.benchmark.data_root, run.benchmark.data_dir),
        "n_samples": int(encoder.stats["texts"] - before["texts"]),
        "wall_seconds": wall, "encode_seconds": enc_seconds,
        "tokens_per_s": tokens / enc_seconds if enc_seconds > 0 else float("nan"),
        "peak_memory_mb": _peak_memory_mb(info["device"]),
        "oom_halvings": int(encoder.stats["oom_halvings"] - before["oom_halvings"]),
        "cache_hit_rate": encoder.cache.hit_rate if encoder.cache else float("nan"),
        "cache_size": encoder.cache.size() if encoder.cache else 0,
    }
    return TaskOutcome(name, pd.DataFrame([{**meta, **row} for row in rows]), items, task_result)


def write_task(outcome: TaskOutcome, folder: Path, model: MTEBEncoder | None = None,
               results_dir: Path | None = None) -> None:
    """mteb's result file and the per-item scores first, then the task file: a task counts as done only when
    all are written. The mteb file goes to ``<results_dir>/mteb`` in mteb's ResultCache layout (this job's
    configuration as the model's experiment), so mteb's own tools read it."""
    if model is not None and results_dir is not None and outcome.task_result is not None:
        mteb.ResultCache(Path(results_dir) / "mteb").save_to_cache(outcome.task_result, model.mteb_model_meta)
    if outcome.items is not None:
        results.write_table(outcome.items.assign(task_name=outcome.name), results.items_path(folder, outcome.name))
    results.write_table(outcome.rows, results.task_path(folder, outcome.name))


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
    reports select runs by it (``kvembed.harness.results.settings``)."""
    return json.dumps(run.overrides.canonical(), sort_keys=True)


# Encoder.describe() fields stored with every result row: the backbone's and the recipe's columns (layers,
# id_curve and tp_layers as list columns), and the padding side; max_length is the run's
RECORDED_ENCODER_FIELDS = (*Backbone.COLUMNS, *Recipe.column_names(), "padding_side")


def task_fingerprints(run: RunConfig, names: list[str]) -> dict[str, dict[str, str]]:
    """The fingerprint columns each task's rows get from this code (kvembed.harness.fingerprint)."""
    prints = fingerprint.current()
    method, chosen = run.method.name.value, run.overrides.canonical()
    return {name: prints.row(method, chosen, task_type(name), run.use_instructions) for name in names}


def _mtime(path: Path) -> int | None:
    return path.stat().st_mtime_ns if path.exists() else None


def run(cfg: Any, resolved_config: dict[str, Any] | None = None) -> pd.DataFrame:
    """Evaluate every task of the benchmark not yet on disk; returns this job's new rows."""
    run_cfg = validate(cfg)
    names = task_names(run_cfg)
    key, folder = result_folder(run_cfg)
    results_dir = Path(run_cfg.results_dir)
    prints = task_fingerprints(run_cfg, names)

    def done(name: str) -> bool:
        return not run_cfg.force and results.is_done(folder, name, prints[name]["fingerprint"], results_dir)

    todo = [n for n in names if not done(n)]
    # what each task's file was when this job chose to compute it: only a file written since then is another's
    seen = {n: _mtime(results.task_path(folder, n)) for n in todo}
    log.info("%s: %d of %d tasks to run (%s)", folder, len(todo), len(names), "forced" if run_cfg.force else "resume")
    if not todo:
        return pd.DataFrame()
    encoder = build_encoder(run_cfg)
    info = encoder.describe()
    job = job_metadata(run_cfg, key, info)
    tracker = Tracker(vars(run_cfg.logger), resolved_config or {}, name=f"{info['backbone']}/{info['method']}-{key}",
                      group=run_cfg.experiment, folder=results_dir)
    job["wandb_dir"] = tracker.run_dir
    model = MTEBEncoder(encoder, batch_size=run_cfg.batch_size, use_instructions=run_cfg.use_instructions,
                        experiment={"kvembed_config": key})
    frames = []
    try:
        for name in todo:
            with results.task_lock(folder, name):
                # a job beside this one made it while this one waited
                if _mtime(results.task_path(folder, name)) != seen[name] and done(name):
                    log.info("%s: made meanwhile by another job; reusing it", name)
                    continue
                outcome = evaluate_task(run_cfg, name, model, {**job, **prints[name]})
                write_task(outcome, folder, model, results_dir)
            tracker.log_task(name, outcome.rows)
            first = outcome.rows.iloc[0]
            log.info("%s: main score %.4f (%.1f s, %.0f tokens/s%s)", name,
                     outcome.rows.loc[outcome.rows["is_main"], "value"].mean(), first["wall_seconds"],
                     first["tokens_per_s"], f", cache hit rate {first['cache_hit_rate']:.2f}" if encoder.cache else "")
            frames.append(outcome.rows)
    finally:
        tracker.finish()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def main() -> None:
    @hydra.main(config_path=CONFIG_DIR, config_name="config", version_base="1.3")
    def _main(cfg) -> None:
        resolved = OmegaConf.to_container(cfg, resolve=True)
        resolved["hydra_output_dir"] = HydraConfig.get().runtime.output_dir
        try:
            run(cfg, resolved)
        except (ValueError, RuntimeError, FileNotFoundError) as err:
            log.error("%s", err)
            sys.exit(2)

    _main()


if __name__ == "__main__":
    main()
