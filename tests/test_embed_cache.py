"""The embedding cache: hits skip encoding, results are unchanged, keys separate configurations."""

from __future__ import annotations

import numpy as np
import pytest

from kvembed import Encoder
from kvembed.embed_cache import EmbeddingCache
from kvembed.overrides import configure


def _enc(bb, **overrides):
    return Encoder(bb, configure("kvembed", layers=[2], **overrides))


def test_second_encode_is_served_from_the_cache(tiny_backbones, sentences, tmp_path):
    bb = tiny_backbones("llama")
    first = _enc(bb)
    first.use_cache(tmp_path)
    a = first.encode(sentences)
    second = _enc(bb)
    cache = second.use_cache(tmp_path)
    b = second.encode(sentences + ["a new text"])
    assert second.stats["texts"] == 1  # only the new text was encoded
    assert cache.hits == len(sentences) and cache.misses == 1 and cache.size() == len(sentences) + 1
    np.testing.assert_array_equal(a, b[:-1])
    np.testing.assert_allclose(b[-1], _enc(bb).encode(["a new text"])[0], atol=1e-6)


def test_configuration_and_role_are_part_of_the_key(tiny_backbones, sentences, tmp_path):
    bb = tiny_backbones("llama")
    base = _enc(bb)
    base.use_cache(tmp_path)
    base.encode(sentences)
    other = _enc(bb, bias=2.0)
    other.use_cache(tmp_path)
    other.encode(sentences)
    assert other.stats["texts"] == len(sentences)  # another bias: nothing reused
    again = _enc(bb)
    again.use_cache(tmp_path)
    again.encode(sentences, prompt_type="query")
    assert again.stats["texts"] == len(sentences)  # queries use another template


def test_read_mode_never_writes(tiny_backbones, sentences, tmp_path):
    enc = _enc(tiny_backbones("llama"))
    cache = enc.use_cache(tmp_path, mode="read")
    enc.encode(sentences)
    assert cache.size() == 0 and cache.misses == len(sentences)
    with pytest.raises(ValueError, match="cache mode"):
        EmbeddingCache(tmp_path, {}, mode="sometimes")
