"""Bootstrap intervals over a category of tasks (the per-task intervals live in ``eval.item_scores``)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..eval.item_scores import statistic

N_BOOT = int(os.environ.get("KVEMBED_BOOTSTRAP", "1000"))  # resamples per interval (tests use fewer)


def category_ci(items: list[pd.DataFrame], baselines: list[pd.DataFrame] | None = None, n_boot: int = N_BOOT,
                level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(mean over tasks, low, high) of the task scores — or of their paired differences against ``baselines``
    — resampling the items of every task at once (tasks are independent samples)."""
    stats = [statistic(i) for i in items]
    base = [statistic(b) for b in baselines] if baselines is not None else None
    sizes = [len(i) for i in items]
    rng = np.random.default_rng(seed)

    def mean(draw: list[np.ndarray]) -> float:
        return float(np.mean([stats[t](idx) - (base[t](idx) if base else 0.0) for t, idx in enumerate(draw)]))

    draws = [mean([rng.integers(0, n, n) for n in sizes]) for _ in range(n_boot)]
    alpha = (1 - level) / 2
    return mean([np.arange(n) for n in sizes]), float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))
