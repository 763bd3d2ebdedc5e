"""Prompt-free pooling baselines over the raw text (with the tokenizer's own special tokens).

``last``: the final token's state (the usual decoder-LM baseline, e.g. SGPT/llm2vec's EOS pooling).
``mean``: the average over every real token.
"""

from __future__ import annotations

from ..prompts import RAW
from .base import MethodSpec

METHODS = [
    MethodSpec("last", RAW, "last", "the final token's state of the raw text (the decoder-LM baseline)"),
    MethodSpec("mean", RAW, "mean", "the mean of the raw text's token states (BOS left out)"),
]
