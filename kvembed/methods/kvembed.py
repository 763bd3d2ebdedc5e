"""KV-Embedding and its ablations (Tang & Yang, arXiv 2601.01046).

Template (documents and symmetric texts): ``Context: [X] Compress the Context in one word:``;
retrieval queries: ``Query: [X] Compress the Query in one word:``. Re-routing at the ``auto`` layers
(TwoNN minimum), bias 1.0 on the prefix logit, pooling ``mean_last`` over the final layer.
"""

from __future__ import annotations

from dataclasses import replace

from ..prompts import RAW, Prompt
from .base import MethodSpec, Routing

COMPRESSION_PROMPT = Prompt(
    document="Context: {text} Compress the Context in one word:",
    query="Query: {text} Compress the Query in one word:",
)

KVEMBED = MethodSpec("kvembed", COMPRESSION_PROMPT, "mean_last", Routing())
ABLATIONS = [
    replace(KVEMBED, name="kvembed_no_prompt", prompt=RAW),
    replace(KVEMBED, name="kvembed_no_reroute", routing=None),
    replace(KVEMBED, name="kvembed_two_pass", routing=Routing(mode="two_pass")),
    replace(KVEMBED, name="kvembed_bidirectional", routing=Routing(mode="bidirectional")),
]
METHODS = [KVEMBED, *ABLATIONS]
