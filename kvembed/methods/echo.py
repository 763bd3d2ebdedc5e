"""Echo embeddings (Springer et al. 2024, arXiv 2402.15449), as jakespringer/echo-embeddings runs them.

The text is shown twice; tokens of the second copy have seen the whole first copy. Templates of the
official code (``README.md``/``example.py``), without ``<s>`` (kvembed adds the tokenizer's own BOS):

    document:  Document:{text}\\nDocument again:{text}{eos}
    query:     Query:{text}\\nQuery again:{text}{eos}
    query, with a task instruction:  Instruct:{instruction}\\nQuery:{text}\\nQuery again:{text}{eos}

pooled over the second copy and the EOS token (the pieces in braces that do not start with ``!``); each
template piece tokenised on its own and cut to ``max_length`` tokens (``EchoParser._tokenize_piece``), so
each copy keeps up to ``max_length`` tokens; symmetric tasks use the query template ("encode both sentences
using the query template"). The instruction is the official ``{!%%prompt%%,}`` piece: one piece, the
instruction followed by a comma, seen by every later token and not pooled; documents get none, as in the
official document template. kvembed passes task instructions only with ``use_instructions=true``.

The templates are those the repository documents for its released checkpoints; the zero-shot prompt of
the paper's appendix could not be checked here (docs/method.md, "Echo").
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec

ECHO = Prompt(document="Document:{text}\nDocument again:{text}{eos}", query="Query:{text}\nQuery again:{text}{eos}")
ECHO_INSTRUCTED = Prompt(document=ECHO.document, query="Instruct:{instruction}\nQuery:{text}\nQuery again:{text}{eos}")

METHODS = [MethodSpec("echo", ECHO, "mean_from_text", tokenization="pieces", symmetric_role="query",
                      instructed_prompt=ECHO_INSTRUCTED, instruction_format="{instruction},",
                      reference="Springer et al. 2024, arXiv 2402.15449; jakespringer/echo-embeddings "
                                "echo_embeddings.py, README.md")]
