"""LoCoV1 long-document retrieval (Saad-Falcon et al. 2024, M2-BERT), as mteb retrieval tasks.

Data: the hub datasets ``hazyresearch/LoCoV1-Queries`` (qid, query, answer_pids, dataset) and
``hazyresearch/LoCoV1-Documents`` (pid, passage, dataset), split ``test``, one task per ``dataset``
value. Relevance is 1 for every answer pid; documents whose passage is None are dropped. A local folder
in the same layout (``queries.jsonl`` and ``documents.jsonl``) can stand in for the hub
(``benchmark.data=<folder>``), which is how the tests run offline. Main score: nDCG@10.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset, load_dataset
from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
from mteb.abstasks.task_metadata import TaskMetadata

QUERIES_REPO = "hazyresearch/LoCoV1-Queries"
DOCUMENTS_REPO = "hazyresearch/LoCoV1-Documents"
LOCOV1_FILES = ("queries.jsonl", "documents.jsonl")  # a local copy in the hub's layout
SUBSETS = ("summ_screen_fd", "gov_report", "qmsum", "qasper_title", "qasper_abstract", "multifieldqa",
           "2wikimqa", "passage_retrieval", "legal_case_reports", "courtlistener_HTML",
           "courtlistener_Plain_Text", "stackoverflow")


# Sizes for cost plans when the data is not here: the dataset viewer's row counts of the whole benchmark
# (hazyresearch/LoCoV1-Documents: 14.8k rows, LoCoV1-Queries: 7.73k rows), spread evenly over the 12 tasks;
# documents are long-context (they fill any max_length up to 4,096 tokens), queries short.
TOTAL_DOCUMENTS, TOTAL_QUERIES = 14_800, 7_730
DOCUMENT_CHARS, QUERY_CHARS = 1_000_000.0, 200.0


@lru_cache(maxsize=2)
def _tables(data_dir: str | None) -> tuple[Any, Any]:
    """(queries, documents) as pandas frames, from a local folder or the hub."""
    if data_dir:
        root = Path(data_dir)
        queries, documents = (pd.read_json(root / f, lines=True) for f in LOCOV1_FILES)
        return queries, documents
    return (load_dataset(QUERIES_REPO, split="test").to_pandas(),
            load_dataset(DOCUMENTS_REPO, split="test").to_pandas())


class LoCoV1Task(AbsTaskRetrieval):
    """One LoCoV1 subset; subclasses below set ``subset`` and ``metadata``."""
    subset: str = ""

    def __init__(self, data_dir: str | None = None, limit: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_dir = data_dir
        self.limit = limit

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        queries, docs = _tables(self.data_dir)
        q = queries[queries["dataset"] == self.subset]
        d = docs[(docs["dataset"] == self.subset) & docs["passage"].notna()]
        if self.limit is not None:
            q = q.head(self.limit)
        if q.empty or d.empty:
            raise ValueError(f"LoCoV1 subset {self.subset!r} has no queries or documents in the data")
        pids = set(d["pid"].astype(str))
        relevant = {str(r.qid): {str(p): 1 for p in r.answer_pids if str(p) in pids} for r in q.itertuples()}
        split = RetrievalSplitData(
            corpus=Dataset.from_dict({"id": d["pid"].astype(str).tolist(), "text": d["passage"].tolist()}),
            queries=Dataset.from_dict({"id": q["qid"].astype(str).tolist(), "text": q["query"].tolist()}),
            relevant_docs={k: v for k, v in relevant.items() if v},
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True


def _metadata(subset: str) -> TaskMetadata:
    return TaskMetadata(
        name=f"LoCoV1.{subset}", type="Retrieval", main_score="ndcg_at_10", category="t2t",
        description=f"LoCoV1 long-document retrieval, subset {subset} (not part of mteb).",
        reference="https://arxiv.org/abs/2402.07440",
        dataset={"path": QUERIES_REPO, "revision": "main"},
        eval_splits=["test"], eval_langs=["eng-Latn"], date=("2024-01-01", "2024-02-12"),
        dialect=[], domains=["Written"], task_subtypes=[], license="not specified",
        annotations_creators="derived", modalities=["text"], sample_creation="found", bibtex_citation="",
    )


LOCOV1_TASKS: dict[str, type[LoCoV1Task]] = {
    f"LoCoV1.{s}": type(f"LoCoV1_{s}", (LoCoV1Task,), {"subset": s, "metadata": _metadata(s)}) for s in SUBSETS
}
