"""Echo embeddings, zero-shot (Springer et al. 2024, arXiv 2402.15449).

The text is shown twice; tokens of the second copy have seen the whole first copy, so pooling them
approximates bidirectional context. Template:
``Rewrite the following sentence: [X]\nThe rewritten sentence: [X]``; pooling = mean over the
second copy's tokens (``mean_text``). Costs twice the tokens of the text.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec

ECHO = "Rewrite the following sentence: {text}\nThe rewritten sentence: {text}"

METHODS = [MethodSpec("echo", Prompt.same(ECHO), "mean_text", reference="Springer et al. 2024, arXiv 2402.15449")]
