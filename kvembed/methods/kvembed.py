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

KVEMBED = MethodSpec("kvembed", COMPRESSION_PROMPT, "mean_last",
                     "KV-Embedding (Tang & Yang 2026, arXiv 2601.01046): compression prompt, same-pass re-routing at "
                     "the TwoNN-chosen layers, (mean + last)/2", Routing())
ABLATIONS = [
    replace(KVEMBED, name="kvembed_no_prompt", prompt=RAW,
            summary="KV-Embedding on the raw text (ablation: no compression prompt)"),
    replace(KVEMBED, name="kvembed_no_reroute", routing=None,
            summary="KV-Embedding's prompt and pooling without re-routing (ablation: the re-routing's contribution)"),
    replace(KVEMBED, name="kvembed_two_pass", routing=Routing(mode="two_pass"),
            summary="KV-Embedding with the prefix taken from a first plain pass (ablation)"),
    replace(KVEMBED, name="kvembed_bidirectional", routing=Routing(mode="bidirectional"),
            summary="KV-Embedding's layers made bidirectional instead of re-routed (ablation)"),
]
METHODS = [KVEMBED, *ABLATIONS]
