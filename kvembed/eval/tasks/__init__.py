"""Task resolution: kvembed's offline tasks by name, anything else from mteb (hub-backed)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import mteb

from ... import hub
from .local import LOCAL_TASKS, local_task, resolve_data_root
from .locov1 import LOCOV1_TASKS
from .offline import OFFLINE_TASKS, stsbenchmark

log = logging.getLogger(__name__)


class DatasetUnavailableError(RuntimeError):
    """A benchmark dataset is neither cached locally nor downloadable from here."""


def get_task(name: str, limit: int | None = None, offline_data: bool = False, data_dir: str | None = None,
             split: str | None = None, data_root: str | None = None):
    """An mteb task object. ``offline_data`` feeds STSBenchmark from the packaged files; ``data_dir``
    points LoCoV1 tasks at a local copy in the hub layout; ``data_root`` (else ``$KVEMBED_DATA``) is a
    folder of original files that real mteb tasks are read from (``local.LOCAL_TASKS``); ``split``
    evaluates that split instead of the task's own (e.g. ``validation`` for model selection, keeping
    ``test`` for the reported number)."""
    if name == "STSBenchmark" and offline_data:
        return stsbenchmark(limit=limit, split=split or "test")
    root = resolve_data_root(data_root)
    if root is not None and name in LOCAL_TASKS and not (name in LOCOV1_TASKS and data_dir):  # data_dir: a fixture
        task = local_task(name, root, limit=limit)
        return task.filter_eval_splits([split]) if split else task
    if (name in OFFLINE_TASKS and name != "STSBenchmark") or name in LOCOV1_TASKS:
        if split not in (None, "test"):
            raise ValueError(f"Task {name!r} has only a test split; benchmark.split={split!r} applies to "
                             "STSBenchmark (validation = the STS-B dev split) and to mteb tasks with that split")
        if name in LOCOV1_TASKS:
            return LOCOV1_TASKS[name](data_dir=data_dir, limit=limit)
        return OFFLINE_TASKS[name](limit=limit)
    try:
        task = mteb.get_task(name)
    except KeyError as err:
        raise ValueError(f"Unknown task {name!r}: not an mteb task nor one of kvembed's tasks "
                         f"{sorted(OFFLINE_TASKS) + sorted(LOCOV1_TASKS)}") from err
    return task.filter_eval_splits([split]) if split else task


def task_type(name: str) -> str:
    """A task's mteb type (``STS``, ``Retrieval``, ...) without loading its data."""
    if name in LOCOV1_TASKS:
        return LOCOV1_TASKS[name].metadata.type
    if name in OFFLINE_TASKS and name != "STSBenchmark":
        return OFFLINE_TASKS[name].metadata.type
    try:
        return mteb.get_task(name).metadata.type
    except KeyError as err:
        raise ValueError(f"Unknown task {name!r}: not an mteb task nor one of kvembed's tasks") from err


def data_source(name: str, offline_data: bool = False, data_root: str | None = None,
                data_dir: str | None = None) -> str:
    """Where a task's rows come from: ``local files``, ``packaged files`` (STS-B, proxies, fixtures) or ``hub``."""
    if name == "STSBenchmark":  # mteb's real task: the packaged STS-B files only when asked for
        return "packaged files" if offline_data else "hub"
    if name in LOCAL_TASKS and resolve_data_root(data_root) is not None and not (name in LOCOV1_TASKS and data_dir):
        return "local files"
    if name in OFFLINE_TASKS:
        return "packaged files"
    return "hub (or data_dir)" if name in LOCOV1_TASKS else "hub"


def benchmark_task_names(name: str) -> list[str]:
    """Task names of a named mteb benchmark (e.g. 'MTEB(eng, v2)')."""
    try:
        return [t.metadata.name for t in mteb.get_benchmark(name).tasks]
    except (KeyError, ValueError) as err:
        raise ValueError(f"Unknown mteb benchmark {name!r}") from err


@contextmanager
def _fail_fast_offline() -> Iterator[None]:
    """Force offline mode for a load when the hub is unreachable, so it fails at once, not after retries."""
    if hub.offline(datasets=True) or hub.reachable():
        yield
        return
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_task_data(task) -> None:
    """Load a task's data, turning any offline failure into an error that names the dataset."""
    if task.data_loaded:
        return
    ds = task.metadata.dataset
    try:
        with _fail_fast_offline():
            task.load_data()
    except Exception as err:  # noqa: BLE001 - datasets/hub raise many types; all mean "not available"
        raise DatasetUnavailableError(
            f"Task {task.metadata.name}: dataset {ds.get('path')!r} (revision {ds.get('revision')}) is not in "
            f"the local cache and cannot be downloaded here ({type(err).__name__}). Run `make prefetch` on a "
            f"machine with network, or use benchmark=offline."
        ) from err
