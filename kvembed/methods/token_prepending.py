"""Token Prepending (Fu et al. 2025, ACL, arXiv 2412.11556).

A placeholder token (<PST>) precedes the text in the PromptEOL template:
``This sentence : "<PST>[X]" means in one word:"``. Before each of the early layers [start, stop) the
placeholder's hidden state is replaced by the previous layer's last-token state (that layer's sentence
embedding), so earlier tokens can attend to a summary of the whole sentence. Pooling: last token.
The placeholder is an existing vocabulary token (the tokenizer's pad/eos): its input embedding only
matters at layer 0, as every later layer overwrites it.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec, TokenPrepending

TEMPLATE = 'This sentence : "{pst}{text}" means in one word:"'

METHODS = [
    MethodSpec("token_prepending", Prompt.same(TEMPLATE), "last", token_prepending=TokenPrepending(),
               reference="Fu et al. 2025, arXiv 2412.11556"),
]
