"""TwoNN intrinsic dimension (Facco et al., Sci. Rep. 2017).

For each point, μ = r2 / r1 (distances to its two nearest neighbours). Under local uniformity μ is
Pareto-distributed with exponent d, so d = N / Σ log μ (maximum likelihood, ``mle``), or the slope
through the origin of −log(1 − F(μ)) against log μ after dropping the largest 10% of μ (``fit``, the
paper's estimator). Duplicate points make r1 = 0 and collapse the estimate, so they are removed first.
"""

from __future__ import annotations

import numpy as np
import torch

ESTIMATORS = ("mle", "fit")


def two_nn_ratios(points: np.ndarray | torch.Tensor) -> np.ndarray:
    """μ_i = r2/r1 for every point after removing duplicate rows (float64 distances)."""
    x = torch.as_tensor(np.asarray(points), dtype=torch.float64)
    if x.ndim != 2:
        raise ValueError(f"points must be a 2-D array (N, dim), got shape {tuple(x.shape)}")
    x = torch.unique(x, dim=0)
    if x.shape[0] < 3:
        raise ValueError(f"TwoNN needs at least 3 distinct points, got {x.shape[0]}")
    d2 = torch.cdist(x, x).fill_diagonal_(float("inf"))
    r = torch.topk(d2, 2, dim=1, largest=False).values
    r1, r2 = r[:, 0], r[:, 1]
    keep = r1 > 0
    return (r2[keep] / r1[keep]).numpy()


def intrinsic_dimension(points: np.ndarray | torch.Tensor, estimator: str = "mle",
                        discard_fraction: float = 0.1) -> float:
    """TwoNN estimate of the intrinsic dimension of a point cloud."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"Unknown TwoNN estimator {estimator!r}; choose one of {ESTIMATORS}")
    mu = two_nn_ratios(points)
    log_mu = np.log(mu[mu > 1.0]) if estimator == "fit" else np.log(mu)
    if estimator == "mle":
        total = log_mu.sum()
        return float(len(log_mu) / total) if total > 0 else float("nan")
    n = len(log_mu)
    log_mu = np.sort(log_mu)
    keep = max(2, int(np.floor(n * (1.0 - discard_fraction))))
    x = log_mu[:keep]
    empirical_cdf = np.arange(1, n + 1)[:keep] / n
    y = -np.log(1.0 - empirical_cdf)
    return float((x @ y) / (x @ x))
