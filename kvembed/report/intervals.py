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
    # drawn resample by resample, task by task within each (the order the intervals have always used)
    drawn = [[rng.integers(0, n, n) for n in sizes] for _ in range(n_boot)]

    def means(rows: list[np.ndarray]) -> np.ndarray:
        """Mean over tasks per resample: (R, tasks), averaged along each row."""
        per_task = [stats[t](idx) - (base[t](idx) if base else 0.0) for t, idx in enumerate(rows)]
        return np.stack(per_task, axis=1).mean(axis=1)

    draws = means([np.stack([d[t] for d in drawn]) for t in range(len(sizes))])
    alpha = (1 - level) / 2
    full = float(means([np.arange(n)[None] for n in sizes])[0])
    return full, float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha))
