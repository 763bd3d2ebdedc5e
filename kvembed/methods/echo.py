"""Echo embeddings (Springer et al. 2024, arXiv 2402.15449), as jakespringer/echo-embeddings runs them.

The text is shown twice; tokens of the second copy have seen the whole first copy. Templates of the
official code (``README.md``/``example.py``), without ``<s>`` (kvembed adds the tokenizer's own BOS):

    document:  Document:{text}\\nDocument again:{text}{eos}
    query:     Query:{text}\\nQuery again:{text}{eos}

pooled over the second copy and the EOS token (the pieces in braces that do not start with ``!``); each
template piece tokenised on its own (``EchoParser``); symmetric tasks use the query template ("encode both
sentences using the query template"). Differences that remain: the official query template starts with
``Instruct:{instruction},\\n`` — kvembed adds task instructions only with ``use_instructions=true``, for every
method alike — and the official parser caps each piece at ``max_length`` tokens where kvembed caps the
whole input.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec

ECHO = Prompt(document="Document:{text}\nDocument again:{text}{eos}", query="Query:{text}\nQuery again:{text}{eos}")

METHODS = [MethodSpec("echo", ECHO, "mean_from_text", tokenization="pieces", symmetric_role="query",
                      reference="Springer et al. 2024, arXiv 2402.15449; jakespringer/echo-embeddings "
                                "echo_embeddings.py, example.py")]
