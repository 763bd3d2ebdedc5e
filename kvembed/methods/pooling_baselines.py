"""Prompt-free pooling baselines over the raw text (with the tokenizer's own special tokens).

``last``: the final token's state (the usual decoder-LM baseline, e.g. SGPT/llm2vec's EOS pooling).
``mean``: the average over every real token.
"""

from __future__ import annotations

from ..prompts import RAW
from .base import MethodSpec

METHODS = [
    MethodSpec("last", RAW, "last"),
    MethodSpec("mean", RAW, "mean"),
]
