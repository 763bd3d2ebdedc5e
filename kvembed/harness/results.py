"""Results on disk: one parquet file per (configuration, task), written atomically; resume by presence.

Layout: ``results/runs/<benchmark>/<backbone>/<method>-<config hash>/<task>.parquet``, long format
(one row per metric, ``is_main`` marking the task's main score). A killed run leaves no partial file
(temp file + rename), and a rerun skips every task whose file exists.
"""

from __future__ import annotations

import io
import json
import platform
import re
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

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


def flatten_scores(task_result) -> list[dict[str, Any]]:
    """mteb TaskResult → rows (split, subset, metric, value, is_main); numeric metrics only."""
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
