"""A named experiment's jobs: its Hydra sweep expanded, each job validated, with its result folder.

A named experiment (``configs/experiment/*.yaml``) is a multirun; its jobs are the product of its
``hydra.sweeper.params`` and any sweep given on the command line (the command line wins, as in Hydra).
The drivers, the cost plan and the rehearsal use this to know what a run will do before it runs; reports
never do (they read the columns of the rows on disk: ``kvembed.store.results``).

    jobs = experiment_jobs("bias_sweep", ["benchmark=offline_dev"])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser

from .config import RunConfig, validate
from .job import CONFIG_DIR, result_folder


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
    swept = cfg.hydra.sweeper.params or {}
    params = [f"{k}={v}" for k, v in swept.items()]
    # as Hydra's sweeper: the command line's overrides come after the experiment's sweep and win, so a fixed
    # value of a swept key (backbone=qwen3-4b) replaces that sweep
    sweeps = params + [o for o in overrides if is_sweep(o) or o.split("=", 1)[0].lstrip("+~") in swept]
    if not sweeps:
        return [[]]
    parsed = OverridesParser.create().parse_overrides(sweeps)
    return BasicSweeper.split_arguments(parsed, None)[0]


def experiment_jobs(experiment: str | None, overrides: Sequence[str] = (),
                    results_dir: Path | str = "results") -> list[Job]:
    """Every job of a named experiment (with extra overrides), with the folder its results go to."""
    return list(_jobs(experiment, tuple(overrides), str(results_dir)))


@cache  # drivers and tests ask for the same experiments many times; composing them is the slow part
def _jobs(experiment: str | None, overrides: tuple[str, ...], results_dir: str) -> tuple[Job, ...]:
    base = [f"experiment={experiment}"] if experiment else []
    fixed = [o for o in overrides if not is_sweep(o)]
    jobs = []
    for swept in expand(experiment, overrides):
        run_cfg = validate(compose_config([*base, *fixed, *swept, f"results_dir={results_dir}"]))
        key, folder = result_folder(run_cfg)
        jobs.append(Job(dict(s.split("=", 1) for s in swept), run_cfg, key, folder))
    return tuple(jobs)
