"""The STS evaluator: Spearman correlation of the pairs' cosine similarity with the gold scores — mteb's STS
main score, and what ``item_scores`` bootstraps. ``evaluate_sts`` runs it on a list of pairs without mteb."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from ..data.stsb import STSPair


@dataclass(frozen=True)
class STSResult:
    spearman: float  # ×100, as MTEB reports it
    n_pairs: int
    n_texts: int
    seconds: float

    @property
    def texts_per_second(self) -> float:
        return self.n_texts / self.seconds if self.seconds > 0 else float("nan")


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``a`` with the same row of ``b``."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return (a * b).sum(axis=1)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho as Pearson's r of average ranks (what scipy computes, without its per-call overhead:
    a bootstrap calls this thousands of times)."""
    return float(np.corrcoef(rankdata(a), rankdata(b))[0, 1])


def evaluate_sts(encoder, pairs: Sequence[STSPair], batch_size: int = 32,
                 show_progress_bar: bool | None = None) -> STSResult:
    """Encode both sides of every pair (unique texts once) and correlate cosine with the gold score. STS is
    symmetric, so both sides take the method's ``symmetric_role`` template, as the mteb adapter does."""
    texts = list(dict.fromkeys([p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]))
    start = time.perf_counter()
    emb = encoder.encode(texts, prompt_type=encoder.method.symmetric_role, batch_size=batch_size,
                         show_progress_bar=show_progress_bar)
    seconds = time.perf_counter() - start
    row = {t: i for i, t in enumerate(texts)}
    a = emb[[row[p.sentence1] for p in pairs]]
    b = emb[[row[p.sentence2] for p in pairs]]
    rho = spearman(cosine_rows(a, b), np.array([p.score for p in pairs]))
    return STSResult(rho * 100, len(pairs), len(texts), seconds)
