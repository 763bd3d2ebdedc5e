"""Per-item scores (one per STS pair or retrieval query) and bootstrap confidence intervals over them.

mteb reports one number per task; a confidence interval, or a *paired* comparison of two
configurations on the same pairs/queries, needs the score of every item. The runner records the
embeddings an encoder produced for a task and this module recomputes the task's main score per item:

* STS: the cosine similarity of each pair next to its gold score (the task score is the Spearman
  correlation of the two columns, mteb's ``cosine_spearman``);
* retrieval: nDCG@10 of each query over the task's corpus (the task score is their mean).

Both reproduce mteb's main score (checked in tests), so an interval is an interval on the published number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .sts import cosine_rows, spearman_resamples

Lookup = Callable[[str, list[str]], np.ndarray]  # (role, texts) -> (n, dim) embeddings
MAX_RECORDED_CORPUS = 200_000  # beyond this, recording every document's vector costs too much memory


def supports(task) -> bool:
    """Whether per-item scores can be computed for this task (STS, or retrieval on a modest corpus)."""
    kind = task.metadata.type
    if kind == "STS":
        return sts_split(task) is not None
    if kind == "Retrieval":
        split = _retrieval_split(task)
        return split is not None and len(split["corpus"]) <= MAX_RECORDED_CORPUS
    return False


def _first_split(task):
    return task.eval_splits[0]  # the task's own splits, or the one a benchmark asked for


def sts_split(task):
    data = getattr(task, "dataset", None)
    if data is None:
        return None
    split = data.get(_first_split(task)) if hasattr(data, "get") else None
    if split is None or not hasattr(split, "column_names") or "score" not in split.column_names:
        return None  # multilingual layouts ({subset: {split: ...}}) are not handled
    return split


def _retrieval_split(task):
    data = getattr(task, "dataset", None)
    if not isinstance(data, Mapping) or len(data) != 1:
        return None
    subset = next(iter(data.values()))
    split = subset.get(_first_split(task)) if isinstance(subset, Mapping) else None
    if split is None or "corpus" not in split or "queries" not in split:
        return None
    return split


def sts_items(task, lookup: Lookup) -> pd.DataFrame:
    """One row per pair: ``item`` (index), ``prediction`` (cosine), ``gold``."""
    split = sts_split(task)
    s1, s2 = list(split["sentence1"]), list(split["sentence2"])
    pred = cosine_rows(lookup("document", s1), lookup("document", s2))
    return pd.DataFrame({"item": np.arange(len(s1)), "prediction": pred.astype(np.float64),
                         "gold": np.asarray(split["score"], dtype=np.float64)})


def _doc_text(row: dict) -> str:
    title = (row.get("title") or "").strip()
    return f"{title} {row['text']}".strip() if title else row["text"]


def ndcg_at_k(scores: np.ndarray, relevance: np.ndarray, k: int = 10) -> float:
    """nDCG@k of one query: ``scores`` and graded ``relevance`` over the corpus (ties keep corpus order)."""
    order = np.argsort(-scores, kind="stable")[:k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((relevance[order] * discounts[: len(order)]).sum())
    ideal = np.sort(relevance)[::-1][:k]
    idcg = float((ideal * discounts[: len(ideal)]).sum())
    return dcg / idcg if idcg > 0 else 0.0


def retrieval_items(task, lookup: Lookup, k: int = 10) -> pd.DataFrame:
    """One row per query with at least one relevant document: ``item`` (query id), ``ndcg_at_10``."""
    split = _retrieval_split(task)
    corpus = list(split["corpus"])
    doc_index = {row["id"]: i for i, row in enumerate(corpus)}
    docs = lookup("document", [_doc_text(row) for row in corpus])
    docs = docs / np.maximum(np.linalg.norm(docs, axis=1, keepdims=True), 1e-12)
    queries = [q for q in split["queries"] if any(v > 0 for v in split["relevant_docs"].get(q["id"], {}).values())]
    qvecs = lookup("query", [q["text"] for q in queries])
    qvecs = qvecs / np.maximum(np.linalg.norm(qvecs, axis=1, keepdims=True), 1e-12)
    sims = qvecs @ docs.T
    rows = []
    for i, q in enumerate(queries):
        rel = np.zeros(len(corpus))
        for doc, grade in split["relevant_docs"][q["id"]].items():
            if doc in doc_index:
                rel[doc_index[doc]] = grade
        rows.append({"item": q["id"], f"ndcg_at_{k}": ndcg_at_k(sims[i], rel, k)})
    return pd.DataFrame(rows)


def task_items(task, lookup: Lookup) -> pd.DataFrame | None:
    """Per-item scores for a supported task, else None."""
    if not supports(task):
        return None
    return sts_items(task, lookup) if task.metadata.type == "STS" else retrieval_items(task, lookup)


def resamples(rng: np.random.Generator, n: int, n_boot: int) -> np.ndarray:
    """(n_boot, n) bootstrap rows of item positions, drawn one resample after another from ``rng``."""
    return np.stack([rng.integers(0, n, n) for _ in range(n_boot)])


def statistic(items: pd.DataFrame) -> Callable[[np.ndarray], np.ndarray]:
    """The task score over rows of item positions: (R, n) -> (R,), every resample of a bootstrap at once."""
    if "gold" in items.columns:
        pred, gold = items["prediction"].to_numpy(), items["gold"].to_numpy()
        return lambda idx: spearman_resamples(pred, gold, idx)
    values = items[[c for c in items.columns if c.startswith("ndcg_at_")][0]].to_numpy()
    return lambda idx: values[idx].mean(axis=1)


def _interval(full: float, draws: np.ndarray, level: float) -> tuple[float, float, float]:
    alpha = (1 - level) / 2
    return float(full), float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))


def bootstrap_ci(items: pd.DataFrame, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float, float]:
    """(score, low, high): percentile bootstrap over items."""
    stat, n = statistic(items), len(items)
    draws = stat(resamples(np.random.default_rng(seed), n, n_boot))
    return _interval(stat(np.arange(n)[None])[0], draws, level)


def paired_difference_ci(items: pd.DataFrame, baseline: pd.DataFrame, n_boot: int = 1000, level: float = 0.95,
                         seed: int = 0) -> tuple[float, float, float]:
    """(difference, low, high) of ``items`` minus ``baseline``, resampling the same items for both."""
    if len(items) != len(baseline) or not (items["item"].to_numpy() == baseline["item"].to_numpy()).all():
        raise ValueError("Paired bootstrap needs the same items in the same order in both runs")
    a, b, n = statistic(items), statistic(baseline), len(items)
    idx = resamples(np.random.default_rng(seed), n, n_boot)
    full = np.arange(n)[None]
    return _interval(a(full)[0] - b(full)[0], a(idx) - b(idx), level)
