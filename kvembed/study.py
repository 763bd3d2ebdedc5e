"""Named experiments as data: expand a Hydra experiment's sweep into its jobs and find each job's results.

A named experiment (``configs/experiment/*.yaml``) is a multirun; its jobs are the product of its
``hydra.sweeper.params`` and any sweep given on the command line (the command line wins, as in Hydra).
Each job's results live where the runner put them (the folder is a hash of the job's resolved
configuration), so reports and notebooks look results up by configuration, never by guessing.

    jobs = experiment_jobs("bias_sweep", ["benchmark=offline_screen"])
    table = experiment_scores("bias_sweep", ["benchmark=offline_screen"])   # one row per job × task
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd

from . import results
from .config import RunConfig, validate


@dataclass(frozen=True)
class Job:
    """One job of an experiment: the values it sweeps, its validated configuration and its result folder."""

    swept: dict[str, str]
    config: RunConfig
    folder: Path

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.swept.items()) or "default"


def _compose(overrides: Sequence[str], hydra: bool = False):
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from .run import CONFIG_DIR

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


def is_sweep(override: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_override(override).is_sweep_override()


def expand(experiment: str | None, overrides: Sequence[str] = ()) -> list[list[str]]:
    """The jobs of ``experiment`` plus command-line ``overrides``, each as its list of swept ``key=value``."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    fixed = [o for o in overrides if not is_sweep(o)]
    base = [f"experiment={experiment}"] if experiment else []
    cfg = _compose([*base, *fixed], hydra=True)
    params = [f"{k}={v}" for k, v in (cfg.hydra.sweeper.params or {}).items()]
    sweeps = params + [o for o in overrides if is_sweep(o)]
    if not sweeps:
        return [[]]
    parsed = OverridesParser.create().parse_overrides(sweeps)
    return BasicSweeper.split_arguments(parsed, None)[0]


def experiment_jobs(experiment: str | None, overrides: Sequence[str] = (),
                    results_dir: Path | str = "results") -> list[Job]:
    """Every job of a named experiment (with extra overrides), with the folder its results go to."""
    from .run import result_key

    base = [f"experiment={experiment}"] if experiment else []
    fixed = [o for o in overrides if not is_sweep(o)]
    jobs = []
    for swept in expand(experiment, overrides):
        run_cfg = validate(_compose([*base, *fixed, *swept, f"results_dir={results_dir}"]))
        key = results.config_hash(result_key(run_cfg))
        folder = results.run_dir(Path(results_dir), run_cfg.benchmark.name, run_cfg.backbone.name,
                                 run_cfg.method.name.value, key)
        jobs.append(Job(dict(s.split("=", 1) for s in swept), run_cfg, folder))
    return jobs


def experiment_scores(experiment: str | None, overrides: Sequence[str] = (),
                      results_dir: Path | str = "results") -> pd.DataFrame:
    """One row per finished (job, task): the swept values, the main score and where the per-item scores are.

    Jobs not run yet are left out (``experiment_jobs`` lists them all)."""
    from .run import task_names

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
            rows.append({**job.swept, **extra, "label": job.label, "task_name": task,
                         "main_score": float(main["value"]), "max_length": int(main["max_length"]),
                         "id_curve": main["id_curve"], "layer_strategy": main["layer_strategy"],
                         "method": main["method"], "layers": main["layers"], "bias": main["bias"],
                         "pooling": main["pooling"], "prefix_position": main["prefix_position"],
                         "prompt_document": main["prompt_document"], "backbone": main["backbone"],
                         "is_proxy": bool(main["is_proxy"]), "items": str(items) if items.exists() else None,
                         "folder": str(job.folder)})
    return pd.DataFrame(rows)
