"""The STS evaluator: Spearman correlation of the pairs' cosine similarity with the gold scores — mteb's STS
main score, and what ``item_scores`` bootstraps. ``evaluate_sts`` runs it on a list of pairs without mteb."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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


def average_ranks(values: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """Ranks of ``values[resamples]`` within each row, ties averaged (scipy's ``rankdata``), shape (R, n).

    A bootstrap row holds copies of the original items, so each row's ranks follow from how many copies of
    each distinct value it holds (a cumulative count), without sorting every row: ranks are exact half-integers,
    hence equal to ``rankdata``'s bit for bit."""
    if np.isnan(values).any():
        return np.full(resamples.shape, np.nan)
    distinct, group = np.unique(values, return_inverse=True)  # group: each item's distinct value, ascending
    rows, n_groups = resamples.shape[0], len(distinct)
    g = group[resamples]
    counts = np.bincount((np.arange(rows)[:, None] * n_groups + g).ravel(),
                         minlength=rows * n_groups).reshape(rows, n_groups).astype(np.float64)
    below = np.cumsum(counts, axis=1) - counts  # copies of strictly smaller values
    return np.take_along_axis(below + (counts + 1) / 2, g, axis=1)


def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``x`` with the same row of ``y`` (R, n) -> (R,), computed in the order
    ``np.corrcoef`` computes it (centre, product matrix, scale by 1/(n-1), divide by each deviation, clip), so
    each value equals ``np.corrcoef(x[i], y[i])[0, 1]`` bit for bit."""
    z = np.stack([x, y], axis=-2).astype(np.float64)  # (R, 2, n)
    z -= z.mean(axis=-1, keepdims=True)
    c = np.matmul(z, np.swapaxes(z, -1, -2).copy())
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant row has no correlation: nan, as corrcoef
        c *= np.true_divide(1, z.shape[-1] - 1)
        sd = np.sqrt(np.diagonal(c, axis1=-2, axis2=-1))
        return np.clip(c[:, 0, 1] / sd[:, 0] / sd[:, 1], -1, 1)


def spearman_resamples(a: np.ndarray, b: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """Spearman's rho of ``a`` and ``b`` over each row of item positions ``resamples`` (R, n) -> (R,): a whole
    bootstrap in one call (the per-resample loop it replaces spent most of its time in call overhead)."""
    return pearson_rows(average_ranks(np.asarray(a, np.float64), resamples),
                        average_ranks(np.asarray(b, np.float64), resamples))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho as Pearson's r of average ranks (scipy's definition)."""
    return float(spearman_resamples(a, b, np.arange(len(a))[None])[0])


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
