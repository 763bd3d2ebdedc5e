"""The mteb-free STS evaluator (scripts/stsb_methods.py) encodes pairs the way the mteb adapter does."""

from __future__ import annotations

import numpy as np
import pytest

from kvembed.data.stsb import STSPair
from kvembed.eval.sts import evaluate_sts
from kvembed.methods import get_method

PAIRS = [STSPair("a cat sits", "a cat is sitting", 4.5, "main-captions", "x"),
         STSPair("a dog runs", "stocks fell", 0.2, "main-news", "x"),
         STSPair("it rains", "rain is falling", 4.0, "main-news", "x")]


class RecordingEncoder:
    """Stands in for kvembed.Encoder: remembers the template role it was asked for."""

    def __init__(self, method: str) -> None:
        self.method = get_method(method)
        self.roles: list[str] = []

    def encode(self, texts, prompt_type="document", batch_size=32, show_progress_bar=None):
        self.roles.append(prompt_type)
        return np.random.default_rng(len(texts)).normal(size=(len(texts), 8)).astype(np.float32)


@pytest.mark.parametrize(("method", "role"), [("echo_finetuned", "query"), ("echo", "document"),
                                                 ("kvembed", "document"), ("prompteol", "document")])
def test_both_sides_of_an_sts_pair_take_the_methods_symmetric_role(method, role):
    # Echo's official README uses its query template on symmetric tasks; the mteb adapter does the same,
    # so the script's STS-B numbers and Table 1's STSBenchmark column come from one encoding.
    enc = RecordingEncoder(method)
    res = evaluate_sts(enc, PAIRS)
    assert enc.roles == [role]
    assert res.n_pairs == 3 and res.n_texts == 6
