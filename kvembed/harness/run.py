"""The Hydra runner: compose → validate → Encoder → each task through mteb → parquet + W&B.

    python -m kvembed.run backbone=smollm2-135m method=kvembed benchmark=offline
    python -m kvembed.run -m bias=0,0.5,1,2            # one job per value, one file per task per job
    python -m kvembed.run experiment=table1_offline     # a named paper experiment (a multirun)
"""

from __future__ import annotations

import logging
import resource
import sys
import time
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

from ..encoder import Encoder, TextEncoder
from ..eval import geometry, item_scores
from ..eval.mteb_model import MTEBEncoder
from ..eval.tasks import data_source, get_task, load_task_data
from ..eval.tasks.offline import PROXY_TASKS
from ..parallel import ParallelEncoder
from ..paths import cache_dir
from ..store import results
from .config import RunConfig, validate
from .job import CONFIG_DIR, encoder_options, job_metadata, result_folder, task_fingerprints, task_names
from .tracking import Tracker

log = logging.getLogger("kvembed.harness.run")


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
    task = get_task(name, limit=run.benchmark.limit, data=run.benchmark.data, split=run.benchmark.split)
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
        "data_source": data_source(name, run.benchmark.data),
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
