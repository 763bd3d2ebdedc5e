"""Embedding-geometry measures on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from kvembed.eval.geometry import alignment, geometry, isotropy, mean_cosine, uniformity


def test_alignment_is_zero_for_identical_pairs_and_four_for_opposite():
    x = np.random.default_rng(0).normal(size=(50, 8))
    assert alignment(x, 3 * x) == pytest.approx(0.0, abs=1e-12)
    assert alignment(x, -x) == pytest.approx(4.0)


def test_uniformity_prefers_spread_points():
    rng = np.random.default_rng(0)
    spread = rng.normal(size=(400, 16))
    cone = spread * 0.05 + np.ones(16)
    assert uniformity(spread) < uniformity(cone)
    assert uniformity(np.ones((5, 3))) == pytest.approx(0.0)  # all identical: potential 1, log 0


def test_isotropy_and_mean_cosine_detect_a_narrow_cone():
    rng = np.random.default_rng(1)
    iso = rng.normal(size=(2000, 8))
    cone = rng.normal(size=(2000, 8)) * 0.1 + np.array([3.0] + [0.0] * 7)
    assert isotropy(iso) > 0.5 > isotropy(cone)
    assert abs(mean_cosine(iso)) < 0.02 and mean_cosine(cone) > 0.9
    assert set(geometry(iso[:100], iso[100:200])) == {"alignment", "uniformity", "isotropy", "mean_cosine"}


def test_layer_id_curve_has_one_value_per_layer(tiny_backbones, sentences):
    from kvembed import Encoder
    from kvembed.data.stsb import unique_sentences
    from kvembed.layers import id_curve
    from kvembed.methods import get_method

    enc = Encoder(tiny_backbones("llama"), get_method("prompteol"))
    curve = id_curve(enc.layer_states(unique_sentences("train", 120)))
    assert len(curve) == 6 and all(np.isfinite(curve[1:]))


def test_sts_geometry_leaves_alignment_undefined_without_positive_pairs_instead_of_failing_the_task():
    import mteb
    from datasets import Dataset

    from kvembed.eval.geometry import sts_geometry

    task = mteb.get_task("BIOSSES")  # gold scores end at 4; a small sample may hold no pair at 4
    task.dataset = {"test": Dataset.from_dict({"sentence1": ["a b", "c d", "e f"], "sentence2": ["g", "h", "i"],
                                               "score": [0.5, 2.0, 3.8]})}
    rng = np.random.default_rng(0)
    vectors: dict[str, np.ndarray] = {}

    def lookup(role: str, texts: list[str]) -> np.ndarray:
        return np.stack([vectors.setdefault(t, rng.normal(size=4)) for t in texts])

    out = sts_geometry(task, lookup)
    assert np.isnan(out["alignment"])
    assert all(np.isfinite(out[k]) for k in ("uniformity", "isotropy", "mean_cosine"))
    task.dataset["test"] = Dataset.from_dict({"sentence1": ["a b", "c d"], "sentence2": ["g", "h"],
                                              "score": [4.0, 1.0]})
    assert np.isfinite(sts_geometry(task, lookup)["alignment"])
