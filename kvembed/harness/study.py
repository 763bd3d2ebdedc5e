"""Named experiments as data: expand a Hydra experiment's sweep into its jobs and find each job's results.

A named experiment (``configs/experiment/*.yaml``) is a multirun; its jobs are the product of its
``hydra.sweeper.params`` and any sweep given on the command line (the command line wins, as in Hydra).
Each job's results live where the runner put them (the folder is a hash of the job's resolved
configuration), so reports and notebooks look results up by configuration, never by guessing.

    jobs = experiment_jobs("bias_sweep", ["benchmark=offline_dev"])
    table = experiment_scores("bias_sweep", ["benchmark=offline_dev"])   # one row per job × task
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from . import results
from .config import RunConfig, validate
from .run import CONFIG_DIR, result_folder, task_names


@dataclass(frozen=True)
class Job:
    """One job of an experiment: the values it sweeps, its validated configuration, hash and result folder."""

    swept: dict[str, str]
    config: RunConfig
    key: str
    folder: Path

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.swept.items()) or "default"


def compose_config(overrides: Sequence[str] = (), hydra: bool = False):
    """The root config composed with ``overrides`` (as the runner would see it), without running anything."""

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


def is_sweep(override: str) -> bool:

    return OverridesParser.create().parse_override(override).is_sweep_override()


def expand(experiment: str | None, overrides: Sequence[str] = ()) -> list[list[str]]:
    """The jobs of ``experiment`` plus command-line ``overrides``, each as its list of swept ``key=value``."""

    fixed = [o for o in overrides if not is_sweep(o)]
    base = [f"experiment={experiment}"] if experiment else []
    cfg = compose_config([*base, *fixed], hydra=True)
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.params or {}).items()]
    sweeps = params + [o for o in overrides if is_sweep(o)]
    if not sweeps:
        return [[]]
    parsed = OverridesParser.create().parse_overrides(sweeps)
    return BasicSweeper.split_arguments(parsed, None)[0]


def experiment_jobs(experiment: str | None, overrides: Sequence[str] = (),
                    results_dir: Path | str = "results") -> list[Job]:
    """Every job of a named experiment (with extra overrides), with the folder its results go to."""
    return list(_jobs(experiment, tuple(overrides), str(results_dir)))


@cache  # reports and notebooks ask for the same experiments many times; composing them is the slow part
def _jobs(experiment: str | None, overrides: tuple[str, ...], results_dir: str) -> tuple[Job, ...]:
    base = [f"experiment={experiment}"] if experiment else []
    fixed = [o for o in overrides if not is_sweep(o)]
    jobs = []
    for swept in expand(experiment, overrides):
        run_cfg = validate(compose_config([*base, *fixed, *swept, f"results_dir={results_dir}"]))
        key, folder = result_folder(run_cfg)
        jobs.append(Job(dict(s.split("=", 1) for s in swept), run_cfg, key, folder))
    return tuple(jobs)


def experiment_scores(experiment: str | None, overrides: Sequence[str] = (),
                      results_dir: Path | str = "results") -> pd.DataFrame:
    """One row per finished (job, task): the swept values, the main score and where the per-item scores are.

    Jobs not run yet are left out (``experiment_jobs`` lists them all)."""

    rows = []
    for job in experiment_jobs(experiment, overrides, results_dir):
        for task in task_names(job.config):
            path = results.task_path(job.folder, task)
            if not path.exists():
                continue
            df = pd.read_parquet(path)
            main = df[df["is_main"]].iloc[0]
            items = results.items_path(job.folder, task)
            extra = {m: float(v) for m, v in zip(df["metric"], df["value"]) if str(m).startswith("geometry_")}
            rows.append({**job.swept, **extra, "label": job.label, "swept": dict(job.swept), "task_name": task,
                         "split": str(main["split"]),
                         "main_score": float(main["value"]), "max_length": int(main["max_length"]),
                         "id_curve": main["id_curve"], "layer_strategy": main["layer_strategy"],
                         "method": main["method"], "layers": main["layers"], "bias": main["bias"],
                         "pooling": main["pooling"], "prefix_position": main["prefix_position"],
                         "prompt_document": main["prompt_document"], "backbone": main["backbone"],
                         "is_proxy": bool(main["is_proxy"]), "task_type": str(main["task_type"]),
                         "items": str(items) if items.exists() else None,
                         "folder": str(job.folder)})
    return pd.DataFrame(rows)
