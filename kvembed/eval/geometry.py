"""Embedding geometry, measured on every STS task a run evaluates (the figures draw it).

* ``alignment`` and ``uniformity`` (Wang & Isola, ICML 2020) on L2-normalised embeddings:
  alignment = E‖f(x) − f(x⁺)‖^α over positive pairs (lower is better), uniformity =
  log E exp(−t‖f(x) − f(y)‖²) over all pairs (lower = more uniform).
* ``isotropy``: the partition-function ratio of Mu & Viswanath (2018), min_c Z(c)/max_c Z(c) over the
  principal directions c, Z(c) = Σ_i exp(cᵀ e_i); 1 = perfectly isotropic. Also ``mean_cosine``.
"""

from __future__ import annotations

import numpy as np

from .item_scores import sts_split


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


def alignment(a: np.ndarray, b: np.ndarray, alpha: float = 2.0) -> float:
    """Mean ‖a_i − b_i‖^α over positive pairs (rows of ``a`` and ``b``), after L2 normalisation."""
    if len(a) != len(b) or len(a) == 0:
        raise ValueError("alignment needs two non-empty arrays with the same number of rows")
    return float((np.linalg.norm(_unit(a) - _unit(b), axis=1) ** alpha).mean())


def uniformity(x: np.ndarray, t: float = 2.0) -> float:
    """log of the mean Gaussian potential exp(−t‖x_i − x_j‖²) over distinct pairs."""
    u = _unit(x)
    if len(u) < 2:
        raise ValueError("uniformity needs at least two embeddings")
    sq = np.clip(2.0 - 2.0 * (u @ u.T), 0.0, None)
    iu = np.triu_indices(len(u), k=1)
    return float(np.log(np.exp(-t * sq[iu]).mean()))


def isotropy(x: np.ndarray) -> float:
    """Mu & Viswanath's I(W) = min Z(c) / max Z(c) over the eigenvectors c of XᵀX (1 = isotropic)."""
    x = np.asarray(x, dtype=np.float64)
    _, vecs = np.linalg.eigh(x.T @ x)
    z = np.exp(np.clip(x @ vecs, -50, 50)).sum(0)
    return float(z.min() / z.max())


def mean_cosine(x: np.ndarray) -> float:
    """Average cosine similarity between distinct embeddings (anisotropy: high = a narrow cone)."""
    u = _unit(x)
    n = len(u)
    s = u @ u.T
    return float((s.sum() - np.trace(s)) / (n * (n - 1)))


def geometry(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """All geometry numbers for positive pairs (a_i, b_i)."""
    both = np.concatenate([a, b])
    return {"alignment": alignment(a, b), "uniformity": uniformity(both), "isotropy": isotropy(both),
            "mean_cosine": mean_cosine(both)}


def sts_geometry(task, lookup, min_gold: float = 4.0, max_texts: int = 2000) -> dict[str, float]:
    """Geometry of an STS task's embeddings: pairs with gold score ≥ ``min_gold`` (of 5) are the positives
    for alignment; uniformity, isotropy and mean cosine use the task's distinct sentences (at most
    ``max_texts``, a fixed sample, to bound the O(n²) terms). ``lookup(role, texts)`` gives embeddings.
    Alignment is NaN when no pair reaches ``min_gold`` (a small sample of a task, or BIOSSES, whose gold
    scores end at 4): a side measure must not fail the task whose score it accompanies."""

    split = sts_split(task)
    gold = np.asarray(split["score"], dtype=np.float64)
    s1, s2 = list(split["sentence1"]), list(split["sentence2"])
    positive = [i for i, g in enumerate(gold) if g >= min_gold]
    texts = list(dict.fromkeys(s1 + s2))
    if len(texts) > max_texts:
        keep = np.random.default_rng(0).choice(len(texts), max_texts, replace=False)
        texts = [texts[i] for i in sorted(keep)]
    both = lookup("document", texts)
    aligned = (alignment(lookup("document", [s1[i] for i in positive]), lookup("document", [s2[i] for i in positive]))
               if positive else float("nan"))
    return {"alignment": aligned,
            "uniformity": uniformity(both), "isotropy": isotropy(both), "mean_cosine": mean_cosine(both)}
