"""Results on disk: one parquet file per (configuration, task), written atomically; resume by presence.

Layout: ``results/runs/<benchmark>/<backbone>/<method>-<config hash>/<task>.parquet``, long format
(one row per metric, ``is_main`` marking the task's main score). A killed run leaves no partial file
(temp file + rename); a rerun skips every task whose file was made by code that computes what this code
computes (its ``fingerprint``, kvembed.store.fingerprint). A file damaged outside kvembed (zero bytes, not
parquet, columns missing, an mteb JSON that does not parse) is set aside as ``*.corrupt``, never deleted, and
its task recomputed; readers skip it with a warning naming it. A per-task lock makes two identical jobs
compute each task once.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import numbers
import os
import platform
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..paths import atomic_write_bytes, stable_hash

log = logging.getLogger(__name__)

ITEMS_SUFFIX = ".items.parquet"
CORRUPT_SUFFIX = ".corrupt"
LOCK_SUFFIX = ".lock"
LOCKS = ".locks"  # a folder beside the task files (ignored by git)
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


class DamagedResultError(ValueError):
    """A result file that cannot be read back, or lacks what every result file has."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = Path(path)
        self.reason = reason


REQUIRED_COLUMNS = (*SCORE_COLUMNS, "task_name", "method", "overrides")


def read_result(path: Path | str) -> pd.DataFrame:
    """A task result file's rows, or ``DamagedResultError`` saying what is wrong with it."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise DamagedResultError(path, "empty file (0 bytes)")
        names = pq.read_schema(path).names
        missing = [c for c in REQUIRED_COLUMNS if c not in names]
        if missing:
            raise DamagedResultError(path, f"columns {missing} are missing")
        df = pd.read_parquet(path)
    except DamagedResultError:
        raise
    except (OSError, ValueError, pa.ArrowException) as err:  # ArrowInvalid: "not a parquet file"
        raise DamagedResultError(path, f"not a readable parquet file ({type(err).__name__}: {err})") from err
    if df.empty:
        raise DamagedResultError(path, "no rows")
    return df


def set_aside(path: Path | str, reason: str) -> Path:
    """Move a damaged file out of the way (``<name>.corrupt``, numbered if that exists), never deleting it."""
    path = Path(path)
    target = path.with_name(path.name + CORRUPT_SUFFIX)
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}.{n}")
    os.replace(path, target)
    log.warning("Damaged result file %s (%s): moved aside to %s; its task will be recomputed", path, reason,
                target.name)
    return target


def _json_damage(path: Path) -> str | None:
    """Why an mteb JSON (or JSON lines) file does not parse, or None."""
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".jsonl":
            for line in filter(str.strip, text.splitlines()):
                json.loads(line)
        else:
            json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        return f"does not parse ({type(err).__name__})"
    return None


def mteb_files(results_dir: Path | str, key: str, task: str) -> list[Path]:
    """mteb's files of a task of configuration ``key`` (``write_task``: the configuration is the model's
    experiment): the task's JSON and the files its folder shares with the other tasks of the configuration."""
    folders = (Path(results_dir) / "mteb" / "results").glob(f"*/*/experiments/kvembed_config_{key}")
    return sorted(p for f in folders for p in (f / f"{task}.json", f / "model_meta.json", f / "run_settings.jsonl")
                  if p.exists())


def recorded_fingerprint(path: Path) -> str | None:
    """The ``fingerprint`` a task file was made with (None for files made before it was recorded).
    A damaged file raises ``DamagedResultError``."""
    df = read_result(path)
    return str(df["fingerprint"].iloc[0]) if "fingerprint" in df else None


def is_done(folder: Path, task: str, fingerprint: str, results_dir: Path | str | None = None) -> bool:
    """A task is done when its files read back and its result was made by code that computes what this code
    computes. Damaged files (the task's parquet, its per-item scores, mteb's JSON files of the configuration)
    are set aside, and the task is not done."""
    path = task_path(folder, task)
    if not path.exists():
        return False
    damaged = False
    try:
        recorded = recorded_fingerprint(path)
    except DamagedResultError as err:
        set_aside(path, err.reason)
        recorded, damaged = None, True
    items = items_path(folder, task)
    if items.exists():
        try:
            pq.read_schema(items)
        except (OSError, ValueError, pa.ArrowException) as err:
            set_aside(items, f"not a readable parquet file ({type(err).__name__})")
            damaged = True
    if results_dir is not None:
        key = folder.name.rsplit("-", 1)[-1]
        for file in mteb_files(results_dir, key, task):
            reason = _json_damage(file)
            if reason:
                set_aside(file, reason)
                damaged = True
    return not damaged and recorded == fingerprint


@contextmanager
def task_lock(folder: Path, task: str) -> Iterator[None]:
    """Hold the task's lock while it is computed, so an identical job started beside this one waits for the
    file instead of computing it again. An OS lock (flock): the kernel drops it when its holder dies, so a
    job killed with -9 never blocks the next one; the lock file itself is left in place, empty."""
    path = folder / LOCKS / f"{_safe(task)}{LOCK_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("%s: another job is computing %s; waiting for it", folder, task)
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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
    frames = [df.assign(result_file=str(f)) for f in task_files(Path(results_dir) / "runs")
              if (df := readable(f)) is not None]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def readable(path: Path) -> pd.DataFrame | None:
    """A result file's rows, or None with one warning naming it when it is damaged (readers skip it; the next
    run of its configuration sets it aside and recomputes it)."""
    try:
        return read_result(path)
    except DamagedResultError as err:
        log.warning("Skipping damaged result file %s", err)
        return None


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
    rows = [_finished_row(str(p), p.stat().st_mtime_ns) for p in paths]
    return pd.DataFrame([r for r in rows if r is not None])


@cache  # notebooks read the same results once per figure; a rewritten file has a new mtime
def _finished_row(path_name: str, mtime_ns: int) -> dict[str, Any] | None:
    path = Path(path_name)
    df = readable(path)
    if df is None:
        return None
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
