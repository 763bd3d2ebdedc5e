"""Semantic textual similarity: Spearman correlation of cosine similarity with gold scores."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.stats import spearmanr

from .data.stsb import STSPair


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
    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    return (a * b).sum(1)


def evaluate_sts(encoder, pairs: Sequence[STSPair], batch_size: int = 32,
                 show_progress_bar: bool | None = None) -> STSResult:
    """Encode both sides of every pair (unique texts once) and correlate cosine with the gold score."""
    texts = list(dict.fromkeys([p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]))
    start = time.perf_counter()
    emb = encoder.encode(texts, batch_size=batch_size, show_progress_bar=show_progress_bar)
    seconds = time.perf_counter() - start
    row = {t: i for i, t in enumerate(texts)}
    a = emb[[row[p.sentence1] for p in pairs]]
    b = emb[[row[p.sentence2] for p in pairs]]
    rho = spearmanr(cosine_rows(a, b), [p.score for p in pairs]).statistic
    return STSResult(float(rho) * 100, len(pairs), len(texts), seconds)
