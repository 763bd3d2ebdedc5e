"""Results on disk: one parquet file per (configuration, task), written atomically; resume by presence.

Layout: ``results/runs/<benchmark>/<backbone>/<method>-<config hash>/<task>.parquet``, long format
(one row per metric, ``is_main`` marking the task's main score). A killed run leaves no partial file
(temp file + rename), and a rerun skips every task whose file exists.
"""

from __future__ import annotations

import io
import json
import numbers
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..paths import atomic_write_bytes, stable_hash

ITEMS_SUFFIX = ".items.parquet"
VERSIONED = ("kvembed", "torch", "transformers", "mteb", "numpy", "datasets")


def config_hash(parts: dict[str, Any]) -> str:
    """Short stable hash of everything that changes the embeddings or the evaluation."""
    return stable_hash(parts, 10)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def run_dir(results_dir: Path, benchmark: str, backbone: str, method: str, key: str) -> Path:
    return Path(results_dir) / "runs" / _safe(benchmark) / _safe(backbone) / f"{_safe(method)}-{key}"


def task_path(folder: Path, task: str) -> Path:
    return folder / f"{_safe(task)}.parquet"


def items_path(folder: Path, task: str) -> Path:
    """Per-item scores of a task (kvembed.eval.item_scores), next to its result file."""
    return folder / f"{_safe(task)}{ITEMS_SUFFIX}"


def write_table(df: pd.DataFrame, path: Path) -> None:
    """Atomically write a parquet file (never a partial file, even if killed mid-write)."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(Path(path), buf.getvalue())


@lru_cache(maxsize=1)
def package_versions() -> str:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return json.dumps(out, sort_keys=True)


SCORE_COLUMNS = ("split", "subset", "metric", "value", "is_main")  # what varies within one task's rows


def flatten_scores(task_result) -> list[dict[str, Any]]:
    """mteb TaskResult → rows (``SCORE_COLUMNS``); numeric metrics only."""
    rows = []
    for split, entries in task_result.scores.items():
        for entry in entries:
            main = entry.get("main_score")
            subset = entry.get("hf_subset", "default")
            for metric, value in entry.items():
                if metric in ("hf_subset", "languages", "main_score") or isinstance(value, bool):
                    continue
                if isinstance(value, (int, float)):
                    rows.append({"split": split, "subset": subset, "metric": metric, "value": float(value),
                                 "is_main": False})
            rows.append({"split": split, "subset": subset, "metric": "main_score", "value": float(main),
                         "is_main": True})
    return rows


def recorded_code_version(path: Path) -> str | None:
    """The ``code_version`` a task file was made with (None for files written before it was recorded)."""
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if "code_version" not in schema.names:
        return None
    values = pq.read_table(path, columns=["code_version"]).column(0).to_pylist()
    return values[0] if values else None


def is_done(folder: Path, task: str, code_version: str) -> bool:
    """A task is done when its file exists and was made by this code (a fix makes a rerun compute again)."""
    path = task_path(folder, task)
    return path.exists() and recorded_code_version(path) == code_version


def task_files(root: Path | str) -> list[Path]:
    """Every task result file under ``root`` (per-item score files excluded)."""
    return sorted(f for f in Path(root).rglob("*.parquet") if not f.name.endswith(ITEMS_SUFFIX))


def items_file(result_file: Path | str) -> Path:
    """The per-item score file beside a task result file (it may not exist: not every task type has one)."""
    path = Path(result_file)
    return path.with_name(path.name.removesuffix(".parquet") + ITEMS_SUFFIX)


def load_results(results_dir: Path | str = "results") -> pd.DataFrame:
    """Every run's rows, concatenated, each with the ``result_file`` it was read from (empty frame when there
    are none)."""
    files = task_files(Path(results_dir) / "runs")
    if not files:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(f).assign(result_file=str(f)) for f in files], ignore_index=True)


def settings(overrides: str) -> dict[str, Any]:
    """A row's ``overrides`` column (canonical JSON) as flat settings named the way Hydra names them:
    ``{"layers.strategy": "range", "layers.start": 12, "bias": 2.0}``; ``{}`` = the method as stated."""
    out: dict[str, Any] = {}
    for name, value in json.loads(overrides).items():
        if isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def finished(results_dir: Path | str = "results") -> pd.DataFrame:
    """One row per finished (run, task), read from the result files' columns: every column the run recorded
    (experiment, backbone, method, layers, bias, split, ...), the task's main score (mean over its subsets,
    on its first evaluated split), ``settings`` (dict, see ``settings``), ``geometry_*`` values, the per-item
    score file (``items``, None when the task has none) and the run's ``folder``."""
    paths = task_files(Path(results_dir) / "runs")
    return pd.DataFrame([_finished_row(str(p), p.stat().st_mtime_ns) for p in paths])


@cache  # notebooks read the same results once per figure; a rewritten file has a new mtime
def _finished_row(path_name: str, mtime_ns: int) -> dict[str, Any]:
    path = Path(path_name)
    df = pd.read_parquet(path)
    if "overrides" not in df:
        raise ValueError(f"{path} has no 'overrides' column (made before runs recorded their settings): "
                         "rerun it or migrate it")
    # positions, not boolean-indexed copies: filtering copies every column, which was most of reading a file
    main = np.flatnonzero(df["is_main"].to_numpy(dtype=bool))
    split = df["split"].to_numpy()
    first = main[split[main] == split[main[0]]]  # the main rows of the first evaluated split
    row = df.iloc[first[0]].to_dict()
    items = items_file(path)
    row.update({"main_score": float(df["value"].iloc[first].mean()), "settings": settings(row["overrides"]),
                "items": str(items) if items.exists() else None, "folder": str(path.parent),
                "result_file": str(path)})
    row.update({m: float(v) for m, v in zip(df["metric"], df["value"]) if str(m).startswith("geometry_")})
    return row


ANY = "<any>"  # a setting that must be set, to any value
ANY_OR_UNSET = "<any or unset>"  # a setting that may be set to any value, or left as the method states it


@dataclass(frozen=True)
class Selection:
    """Finished runs chosen by their columns: ``where`` (column = value), ``methods`` (empty: any) and
    ``settings`` (setting = value, a tuple of allowed values, ``ANY`` or ``ANY_OR_UNSET``; ``layers`` =
    ``ANY_OR_UNSET`` admits every ``layers.*``). Every setting a run set must be listed: runs that set
    anything else are a different question."""

    where: Mapping[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def admits(self, given: Mapping[str, Any]) -> bool:
        """Whether a run that set ``given`` (flat settings) is one of this selection's."""
        for name, want in self.settings.items():
            if name not in given:
                if want != ANY_OR_UNSET and not (want == ANY and _group_given(name, given)):
                    return False
            elif want not in (ANY, ANY_OR_UNSET) and not _equal(given[name], want):
                return False
        return all(name in self.settings or _group(name) in self.settings for name in given)

    def select(self, runs: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``finished(...)`` this selection chooses."""
        if runs.empty:
            return runs
        keep = pd.Series(True, index=runs.index)
        for column, value in self.where.items():
            keep &= runs[column].map(lambda v, want=value: _equal(v, want))
        if self.methods:
            keep &= runs["method"].isin(self.methods)
        keep &= runs["settings"].map(self.admits)
        return runs[keep]


def _group(name: str) -> str:
    return name.split(".", 1)[0]


def _group_given(name: str, given: Mapping[str, Any]) -> bool:
    return any(_group(k) == name for k in given)


def _equal(value: Any, want: Any) -> bool:
    """A column or setting value against what a selection asks for (a tuple: any of; numbers by value)."""
    if isinstance(want, tuple):
        return any(_equal(value, w) for w in want)
    if value is None or (isinstance(value, float) and value != value):
        return want is None
    if isinstance(want, numbers.Real) and not isinstance(want, bool) and isinstance(value, numbers.Real):
        return float(value) == float(want)
    return value == want
