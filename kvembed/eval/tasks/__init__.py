"""Task resolution: one registry of named sources (``SOURCES``: the packaged STS-B files, a data folder of
original files, the STS-B proxies, LoCoV1, the hub); a task comes from the first that holds it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mteb

from ... import hub
from .local import LOCAL_TASKS, local_task, resolve_data_root
from .locov1 import LOCOV1_FILES, LOCOV1_TASKS
from .offline import OFFLINE_TASKS, stsbenchmark

log = logging.getLogger(__name__)


class DatasetUnavailableError(RuntimeError):
    """A benchmark dataset is neither cached locally nor downloadable from here."""


HUB, LOCAL = "hub", "local"


@dataclass(frozen=True)
class DataLocations:
    """Where a job's rows come from, read from its one setting ``benchmark.data``:

    * ``hub``: mteb's own loaders (the paper's runs);
    * ``local``: the packaged STS-B files, the data folder of original files (``$KVEMBED_DATA``) and kvembed's
      proxies, each for the tasks it holds; the hub for the rest;
    * a folder: a data folder of original files (``local`` with that folder), or a LoCoV1 copy in the hub's
      layout (``queries.jsonl`` and ``documents.jsonl``, like ``tests/fixtures/locov1``): LoCoV1's tasks
      from it, the rest from the hub."""

    data: str = HUB

    def _folder(self) -> Path | None:
        if self.data in (HUB, LOCAL):
            return None
        folder = Path(self.data).expanduser()
        if not folder.is_dir():
            raise ValueError(f"benchmark.data={self.data!r}: no such folder (expected {HUB!r}, {LOCAL!r}, a data "
                             "folder of original files or a LoCoV1 copy)")
        return folder

    @property
    def locov1_copy(self) -> str | None:
        """The LoCoV1 copy's folder, as given, when ``data`` names one."""
        folder = self._folder()
        return self.data if folder and all((folder / f).is_file() for f in LOCOV1_FILES) else None

    @property
    def local(self) -> bool:
        """Whether local sources serve what they hold (the packaged STS-B, a data folder)."""
        return self.data != HUB and self.locov1_copy is None

    @property
    def root(self) -> Path | None:
        """The data folder of original files, if any."""
        return resolve_data_root(self._folder()) if self.local else None

    def key(self) -> dict[str, Any]:
        """What the result key records of it (the form earlier results were keyed by, so they keep their key)."""
        return {"offline_data": self.local, "data_dir": self.locov1_copy}


def _test_split_only(name: str, split: str | None) -> None:
    if split not in (None, "test"):
        raise ValueError(f"Task {name!r} has only a test split; benchmark.split={split!r} applies to "
                         "STSBenchmark (validation = the STS-B dev split) and to mteb tasks with that split")


def _split(task, split: str | None):
    return task.filter_eval_splits([split]) if split else task


def _from_local_files(name: str, at: DataLocations, limit: int | None, split: str | None):
    return _split(local_task(name, at.root, limit=limit), split)


def _from_proxies(name: str, at: DataLocations, limit: int | None, split: str | None):
    _test_split_only(name, split)
    return OFFLINE_TASKS[name](limit=limit)


def _from_locov1(name: str, at: DataLocations, limit: int | None, split: str | None):
    _test_split_only(name, split)
    return LOCOV1_TASKS[name](data_dir=at.locov1_copy, limit=limit)


def _from_hub(name: str, at: DataLocations, limit: int | None, split: str | None):
    try:
        task = mteb.get_task(name)
    except KeyError as err:
        raise ValueError(f"Unknown task {name!r}: not an mteb task nor one of kvembed's tasks "
                         f"{sorted(OFFLINE_TASKS) + sorted(LOCOV1_TASKS)}") from err
    return _split(task, split)


@dataclass(frozen=True)
class Source:
    """A named place tasks' rows come from: ``serves`` says which tasks it holds given the job's data
    locations, ``load`` builds the mteb task; ``recorded`` is the ``data_source`` column of its rows."""

    name: str
    recorded: str
    serves: Callable[[str, DataLocations], bool]
    load: Callable[[str, DataLocations, int | None, str | None], Any]


# In order: the first source that serves a task is where its rows come from.
SOURCES = (
    Source("packaged", "packaged files", lambda n, at: n == "STSBenchmark" and at.local,
           lambda n, at, limit, split: stsbenchmark(limit=limit, split=split or "test")),
    Source("local files", "local files", lambda n, at: n in LOCAL_TASKS and at.root is not None, _from_local_files),
    Source("proxies", "packaged files", lambda n, at: n in OFFLINE_TASKS and n != "STSBenchmark", _from_proxies),
    Source("LoCoV1", "hub (or data_dir)", lambda n, at: n in LOCOV1_TASKS, _from_locov1),
    Source("hub", "hub", lambda n, at: True, _from_hub),
)


def source_of(name: str, at: DataLocations) -> Source:
    """The source a task's rows come from (``SOURCES``, first that serves it)."""
    return next(s for s in SOURCES if s.serves(name, at))


def get_task(name: str, limit: int | None = None, data: str = HUB, split: str | None = None):
    """An mteb task object, from the first of ``SOURCES`` that holds it. ``data`` says where rows may come
    from (``DataLocations``: ``hub``, ``local`` or a folder); ``split`` evaluates that split instead of the
    task's own (e.g. ``validation`` for model selection, keeping ``test`` for the reported number)."""
    at = DataLocations(data)
    return source_of(name, at).load(name, at, limit, split)


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


def data_source(name: str, data: str = HUB) -> str:
    """Where a task's rows come from, as its rows record it: ``local files``, ``packaged files`` (STS-B,
    proxies), ``hub (or data_dir)`` (LoCoV1) or ``hub``."""
    return source_of(name, DataLocations(data)).recorded


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
