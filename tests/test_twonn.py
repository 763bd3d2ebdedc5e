"""TwoNN on synthetic data of known intrinsic dimension."""

from __future__ import annotations

import numpy as np
import pytest

from kvembed.twonn import intrinsic_dimension


def embedded(d: int, n: int = 2000, ambient: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(ambient, d)))[0]
    return rng.normal(size=(n, d)) @ basis.T  # Gaussian: no boundary, where TwoNN is known to underestimate


@pytest.mark.parametrize("d", [2, 5, 10])
@pytest.mark.parametrize("estimator", ["mle", "fit"])
def test_recovers_the_dimension_of_a_linear_manifold(d, estimator):
    est = intrinsic_dimension(embedded(d), estimator)
    assert abs(est - d) / d < 0.15, est


def test_nonlinear_manifold_swiss_roll_is_two_dimensional():
    rng = np.random.default_rng(1)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=3000))
    pts = np.stack([t * np.cos(t), 20 * rng.uniform(size=3000), t * np.sin(t)], 1)
    assert abs(intrinsic_dimension(pts) - 2) < 0.3


def test_duplicates_do_not_collapse_the_estimate():
    x = embedded(5, n=1000)
    with_dups = np.concatenate([x, x[:100]])
    assert abs(intrinsic_dimension(with_dups) - intrinsic_dimension(x)) < 1e-9


def test_too_few_points_is_an_error():
    with pytest.raises(ValueError, match="at least 3 distinct"):
        intrinsic_dimension(np.ones((10, 4)))
    with pytest.raises(ValueError, match="estimator"):
        intrinsic_dimension(embedded(2), "pca")
