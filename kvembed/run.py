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
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from .config import RunConfig, layer_options, validate

log = logging.getLogger("kvembed.run")
CONFIG_DIR = str(Path(__file__).resolve().parent.parent / "configs")


def task_names(run: RunConfig) -> list[str]:
    from .tasks import benchmark_task_names

    names = list(run.benchmark.tasks)
    if run.benchmark.mteb_benchmark:
        names += [n for n in benchmark_task_names(run.benchmark.mteb_benchmark) if n not in names]
    return names


def encoder_options(run: RunConfig) -> dict[str, Any]:
    """Keyword arguments for Encoder.from_pretrained (only what the config sets)."""
    opts: dict[str, Any] = dict(method=run.method.name.value, dtype=run.backbone.dtype.value, device=run.device,
                                max_length=run.max_length, padding_side=run.padding_side.value,
                                revision=run.backbone.revision)
    if run.layers.strategy != "default":
        opts["layers"] = layer_options(run)
    if run.pooling.name.value != "default":
        opts["pooling"] = run.pooling.name.value
    for key in ("bias", "prefix_position", "routing_impl"):
        if getattr(run, key) is not None:
            opts[key] = getattr(run, key)
    if run.prompt != "default":
        opts["prompt"] = run.prompt
    return opts


def result_key(run: RunConfig) -> dict[str, Any]:
    """Everything that changes the scores (not batch size, device or logging)."""
    opts = encoder_options(run)
    opts.pop("device")
    return {"backbone": run.backbone.name, **opts, "use_instructions": run.use_instructions,
            "limit": run.benchmark.limit, "offline_data": run.benchmark.offline_data,
            "data_dir": run.benchmark.data_dir}


def _peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB → MiB (process peak)


def run(cfg: Any, resolved_config: dict[str, Any] | None = None) -> pd.DataFrame:
    """Evaluate every task of the benchmark not yet on disk; returns this job's new rows."""
    import mteb
    import torch

    from . import analysis, item_scores, results
    from .encoder import Encoder
    from .mteb_model import MTEBEncoder
    from .tasks import get_task, load_task_data
    from .tracking import Tracker

    run_cfg = validate(cfg)
    names = task_names(run_cfg)
    key_parts = result_key(run_cfg)
    key = results.config_hash(key_parts)
    folder = results.run_dir(Path(run_cfg.results_dir), run_cfg.benchmark.name, run_cfg.backbone.name,
                             run_cfg.method.name.value, key)
    todo = [n for n in names if run_cfg.force or not results.task_path(folder, n).exists()]
    log.info("%s: %d of %d tasks to run (%s)", folder, len(todo), len(names), "forced" if run_cfg.force else "resume")
    if not todo:
        return pd.DataFrame()

    if run_cfg.workers > 1:
        from .parallel import ParallelEncoder

        opts = encoder_options(run_cfg)
        device = opts.pop("device")
        devices = None if device == "auto" else [device] * run_cfg.workers
        encoder = ParallelEncoder(run_cfg.backbone.name, opts.pop("method"), workers=run_cfg.workers,
                                  devices=devices, **opts)
    else:
        encoder = Encoder.from_pretrained(run_cfg.backbone.name, **encoder_options(run_cfg))
    if run_cfg.cache != "off":
        from .paths import cache_dir

        encoder.use_cache(cache_dir("embeddings"), run_cfg.cache)
    info = encoder.describe()
    run_id = uuid.uuid4().hex[:12]
    tracker = Tracker(vars(run_cfg.logger), resolved_config or {}, name=f"{info['backbone']}/{info['method']}-{key}",
                      group=run_cfg.experiment)
    model = MTEBEncoder(encoder, batch_size=run_cfg.batch_size, use_instructions=run_cfg.use_instructions)
    from .tasks.offline import PROXY_TASKS

    frames = []
    try:
        for name in todo:
            task = get_task(name, limit=run_cfg.benchmark.limit, offline_data=run_cfg.benchmark.offline_data,
                            data_dir=run_cfg.benchmark.data_dir)
            load_task_data(task)
            if info["device"].startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            before = dict(encoder.stats)
            model.record(item_scores.supports(task))
            start = time.perf_counter()
            result = mteb.evaluate(model, [task], cache=None, overwrite_strategy="always",
                                   encode_kwargs={"batch_size": run_cfg.batch_size}, show_progress_bar=False)
            wall = time.perf_counter() - start
            task_result = result.task_results[0]
            tokens = encoder.stats["tokens"] - before["tokens"]
            enc_seconds = encoder.stats["seconds"] - before["seconds"]
            meta = {
                "run_id": run_id, "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "experiment": run_cfg.experiment, "benchmark": run_cfg.benchmark.name, "config_hash": key,
                "git_commit": results.git_commit(), "versions": results.package_versions(),
                "backbone": info["backbone"], "backbone_source": info["backbone_source"],
                "revision": str(info["revision"]), "dtype": info["dtype"], "device": info["device"],
                "method": info["method"], "routing_mode": info["routing_mode"], "layers": str(info["layers"]),
                "layer_strategy": info["layer_strategy"], "id_curve": str(info["id_curve"]),
                "pooling": info["pooling"], "bias": info["bias"], "prefix_position": info["prefix_position"],
                "routing_impl": info["routing_impl"], "tp_layers": str(info["tp_layers"]),
                "output_layer": info.get("output_layer"), "cp_layer": info.get("cp_layer"),
                "cp_coeff": info.get("cp_coeff"), "baseline_settings_source": info.get("baseline_settings_source"),
                "tokenization": info.get("tokenization"), "preprocess": info.get("preprocess"),
                "prompt_document": info["prompt_document"], "prompt_query": info["prompt_query"],
                "use_instructions": run_cfg.use_instructions, "max_length": run_cfg.max_length,
                "batch_size": run_cfg.batch_size, "padding_side": info["padding_side"],
                "task_name": name, "task_type": task.metadata.type, "is_proxy": name in PROXY_TASKS,
                "n_samples": int(encoder.stats["texts"] - before["texts"]), "limit": run_cfg.benchmark.limit,
                "wall_seconds": wall, "encode_seconds": enc_seconds,
                "tokens_per_s": tokens / enc_seconds if enc_seconds > 0 else float("nan"),
                "peak_memory_mb": _peak_memory_mb(info["device"]), "workers": run_cfg.workers,
                "oom_halvings": int(encoder.stats["oom_halvings"] - before["oom_halvings"]),
                "wandb_dir": tracker.run_dir,
                "cache_mode": run_cfg.cache,
                "cache_hit_rate": encoder.cache.hit_rate if encoder.cache else float("nan"),
                "cache_size": encoder.cache.size() if encoder.cache else 0,
            }
            rows = results.flatten_scores(task_result)
            try:
                items = item_scores.task_items(task, model.lookup) if model.recorded is not None else None
            except KeyError as err:  # the task's score stands; only its per-item scores are missing
                log.warning("%s: no per-item scores (%s)", name, err)
                items = None
            if items is not None and task.metadata.type == "STS":  # embedding geometry for the figures
                split = task.metadata.eval_splits[0]
                rows += [{"split": split, "subset": "default", "metric": f"geometry_{k}", "value": v, "is_main": False}
                         for k, v in analysis.sts_geometry(task, model.lookup).items()]
            model.record(False)
            df = pd.DataFrame([{**meta, **row} for row in rows])
            if items is not None:  # before the task file: a task counts as done only with both written
                results.write_table(items.assign(task_name=name), results.items_path(folder, name))
            results.write_table(df, results.task_path(folder, name))
            tracker.log_task(name, df)
            main = df.loc[df["is_main"], "value"].mean()
            log.info("%s: main score %.4f (%.1f s, %.0f tokens/s%s)", name, main, wall, meta["tokens_per_s"],
                     f", cache hit rate {meta['cache_hit_rate']:.2f}, size {meta['cache_size']}" if encoder.cache else "")
            frames.append(df)
    finally:
        tracker.finish()
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def main() -> None:
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

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
