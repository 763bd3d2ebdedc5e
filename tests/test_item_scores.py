"""Per-item scores and bootstrap intervals: the arithmetic the ablation report's error bars rest on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from kvembed.eval.item_scores import bootstrap_ci, ndcg_at_k, paired_difference_ci, resamples, statistic


def sts(pred, gold) -> pd.DataFrame:
    return pd.DataFrame({"item": np.arange(len(pred)), "prediction": pred, "gold": gold})


def test_ndcg_is_one_for_a_perfect_ranking_and_discounted_below_the_top():
    rel = np.array([0.0, 1.0, 0.0])
    assert ndcg_at_k(np.array([0.1, 0.9, 0.2]), rel) == 1.0
    assert ndcg_at_k(np.array([0.9, 0.5, 0.1]), rel) == pytest.approx(1 / np.log2(3))
    assert ndcg_at_k(np.array([0.9, 0.0, 0.5]), rel, k=2) == 0.0


def test_bootstrap_interval_brackets_the_score_and_narrows_with_more_items():
    rng = np.random.default_rng(1)
    gold = rng.normal(size=2000)
    pred = gold + rng.normal(size=2000)
    score, low, high = bootstrap_ci(sts(pred[:200], gold[:200]), n_boot=300)
    assert low < score < high
    _, low_big, high_big = bootstrap_ci(sts(pred, gold), n_boot=300)
    assert high_big - low_big < high - low


def test_paired_difference_of_a_run_with_itself_is_exactly_zero():
    rng = np.random.default_rng(2)
    items = sts(rng.normal(size=100), rng.normal(size=100))
    assert paired_difference_ci(items, items, n_boot=50) == (0.0, 0.0, 0.0)


def test_paired_difference_detects_a_better_run_and_refuses_different_items():
    rng = np.random.default_rng(3)
    gold = rng.normal(size=500)
    good, bad = sts(gold + 0.5 * rng.normal(size=500), gold), sts(gold + 2 * rng.normal(size=500), gold)
    diff, low, high = paired_difference_ci(good, bad, n_boot=300)
    assert 0 < low < diff < high
    with pytest.raises(ValueError, match="same items"):
        paired_difference_ci(good, bad.iloc[:-1])


def test_retrieval_items_bootstrap_the_mean_ndcg():
    items = pd.DataFrame({"item": [f"q{i}" for i in range(50)], "ndcg_at_10": np.linspace(0, 1, 50)})
    score, low, high = bootstrap_ci(items, n_boot=200)
    assert score == pytest.approx(0.5) and low < 0.5 < high


def test_a_whole_bootstrap_at_once_equals_scipy_resample_by_resample_bit_for_bit():
    """The vectorised statistic is Spearman as scipy defines it (Pearson of average ranks via np.corrcoef),
    on every resample — ties, repeated items and constant resamples (nan) included."""
    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 50, 400):
        pred, gold = rng.normal(size=n), rng.integers(0, 5, n).astype(float)
        pred[: n // 3] = pred[0]
        idx = resamples(rng, n, 300)
        with np.errstate(invalid="ignore", divide="ignore"):
            want = np.array([np.corrcoef(rankdata(pred[i]), rankdata(gold[i]))[0, 1] for i in idx])
        got = statistic(sts(pred, gold))(idx)
        assert np.array_equal(got, want, equal_nan=True), n


def test_retrieval_resamples_average_each_row_as_a_single_mean_would():
    values = np.random.default_rng(5).random(37)
    idx = resamples(np.random.default_rng(6), 37, 50)
    got = statistic(pd.DataFrame({"item": np.arange(37), "ndcg_at_10": values}))(idx)
    assert np.array_equal(got, [values[i].mean() for i in idx])
