"""W&B logging (offline by default). W&B off, missing or failing never blocks the parquet results."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ..store.results import SCORE_COLUMNS

log = logging.getLogger(__name__)
TASK_MEASURES = ("n_samples", "wall_seconds", "encode_seconds", "tokens_per_s", "peak_memory_mb", "cache_hit_rate")

LOGGERS = ("wandb", "none")


class Tracker:
    """One W&B run per job: config = the resolved config, one table + main score per task."""

    def __init__(self, settings: dict[str, Any], config: dict[str, Any], name: str, group: str,
                 folder: Path | str | None = None) -> None:
        """``folder``: where the run's files go when ``settings`` names no ``dir`` (the runner passes the
        results folder, so offline runs land beside the results they log: ``<results_dir>/wandb/``), never
        the current folder."""
        self.run = None
        if settings.get("name", "none") == "none":
            return
        where = Path(settings.get("dir") or folder or "outputs")
        try:
            import wandb  # only when a run logs to W&B: logger=none never pays its import

            where.mkdir(parents=True, exist_ok=True)
            self.run = wandb.init(project=settings.get("project", "kvembed"), entity=settings.get("entity"),
                                  mode=settings.get("mode", "offline"), dir=str(where),
                                  config=config, name=name, group=group, tags=list(settings.get("tags") or []),
                                  reinit="finish_previous")
        except Exception as err:  # noqa: BLE001 - any W&B failure degrades to "no W&B"
            log.warning("W&B disabled for this run: %s", err)
            self.run = None

    @property
    def run_dir(self) -> str | None:
        """The W&B run folder, relative to the working directory when inside it (result files are shared:
        they must not carry one machine's absolute paths)."""
        path = getattr(self.run, "dir", None) if self.run else None
        if path is None:
            return None
        path = Path(path).resolve()
        if path.is_relative_to(Path.cwd().resolve()):
            return str(path.relative_to(Path.cwd().resolve()))
        parts = path.parts
        return str(Path(*parts[parts.index("wandb"):])) if "wandb" in parts else path.name

    def log_task(self, task: str, rows: pd.DataFrame) -> None:
        """The task's scores as a table (one row per split, subset and metric) and its measures as scalars;
        the settings every row repeats are the run's config already. (Logging all ~57 columns of every row
        cost W&B's per-cell typing ~2 s a task: more than a small task's whole evaluation.)"""
        if self.run is None:
            return
        try:
            import wandb

            main = rows.loc[rows["is_main"], "value"]
            payload = {f"{task}/table": wandb.Table(dataframe=rows[list(SCORE_COLUMNS)].astype(str))}
            first = rows.iloc[0]
            payload.update({f"{task}/{m}": float(first[m]) for m in TASK_MEASURES
                            if m in rows.columns and pd.notna(first[m])})
            if len(main):
                payload[f"{task}/main_score"] = float(main.mean())
                self.run.summary[f"{task}/main_score"] = float(main.mean())
            self.run.log(payload)
        except Exception as err:  # noqa: BLE001
            log.warning("W&B logging failed for %s: %s", task, err)

    def finish(self) -> None:
        if self.run is not None:
            try:
                self.run.finish()
            except Exception as err:  # noqa: BLE001
                log.warning("W&B finish failed: %s", err)
            self.run = None
