"""The real embedded backbone (SmolLM2-135M-Instruct, GGUF from PyPI) on real STS-B pairs.

A sample of the test split by default; the whole split (1,379 pairs) with ``-m slow``. The bound is a
sanity floor (a random-init model scores ~0), not a target: measured values live in results/.
"""

from __future__ import annotations

import pytest

from kvembed import Encoder
from kvembed.data.stsb import load_stsb
from kvembed.eval.sts import cosine_rows, evaluate_sts

pytestmark = pytest.mark.integration


def test_stsb_files_are_the_original_splits():
    assert [len(load_stsb(s)) for s in ("train", "dev", "test")] == [5749, 1500, 1379]
    first = load_stsb("test")[0]
    assert (first.sentence1, first.sentence2, first.score) == (
        "A girl is styling her hair.", "A girl is brushing her hair.", 2.5)


@pytest.mark.parametrize("method", ["prompteol", "kvembed"])
def test_smollm2_embeddings_track_human_similarity(method, smollm2):
    pairs = load_stsb("test")[:150]
    # auto layers on a 300-text ID sample keeps CI fast; the default (1,000) runs in the offline benchmark
    layers = {"layers": {"strategy": "auto", "n_samples": 300}} if method == "kvembed" else {}
    enc = Encoder.from_pretrained(smollm2, method=method, **layers)
    res = evaluate_sts(enc, pairs)
    assert res.spearman > 15, res
    if method == "kvembed":
        assert len(enc.layers) == 3 and min(enc.layers) >= 6  # floor(0.1*30) layers after the first 20%
        assert len(enc.describe()["id_curve"]) == 30


def test_smollm2_rerouting_changes_the_embedding(smollm2):
    texts = ["A man is playing a flute.", "A man is playing the guitar."]
    plain = Encoder.from_pretrained(smollm2, method="kvembed_no_reroute").encode(texts)
    routed = Encoder.from_pretrained(smollm2, method="kvembed", layers=[10, 11, 12]).encode(texts)
    assert (cosine_rows(plain, routed) < 0.9999).all()


@pytest.mark.parametrize("method", ["cp", "token_prepending"])
def test_smollm2s_tp_and_cp_read_the_penultimate_layer_as_their_authors_do_off_llama_2(method, smollm2):
    info = Encoder.from_pretrained(smollm2, method=method).describe()
    assert info["output_layer"] == -2  # hidden_states[-2]: the output of 29 of SmolLM2's 30 layers
    assert info["baseline_settings_source"].startswith("inferred: output hidden_states[-2]")
    scaled = Encoder.from_pretrained(smollm2, method=f"{method}_depth_scaled").describe()
    assert scaled["output_layer"] == 25  # the named alternative: Llama-2-7B's 27 of 32, scaled to 30


@pytest.mark.slow
@pytest.mark.parametrize("method", ["mean", "last", "prompteol", "echo", "token_prepending", "kvembed"])
def test_full_stsb_test_split(method, smollm2):
    pairs = load_stsb("test")
    res = evaluate_sts(Encoder.from_pretrained(smollm2, method=method), pairs)
    print(f"{method}: Spearman x100 = {res.spearman:.2f}, {res.texts_per_second:.1f} texts/s")
    assert res.n_pairs == 1379 and res.spearman > 15

