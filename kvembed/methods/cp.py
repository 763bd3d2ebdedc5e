"""Contrastive Prompting (Cheng et al., ACL 2025, arXiv 2505.12831), as zifengcheng/CP runs it.

The PromptEOL prompt, plus a contrast prompt that asks for what does *not* matter:
``The irrelevant information of this sentence : "[X]" means in one word:"``. At one early layer the
last token's input to the attention output projection (``o_proj``) is replaced by
``coeff * (A - B)``: A from the PromptEOL prompt, B from the contrast prompt run to that layer
(``evaluate_intervention.py`` with ``--intervention_plan scaled --intervention_location att_head``, the
official run script's setting). The embedding is the last token's state at the official output layer.

A backbone without an entry in ``run_intervention_eval.sh`` reads ``hidden_states[-2]`` (the Meta-Llama-3-8B
entry's, and that of every Token Prepending entry but Llama-2-7B's, a repository by the same authors) with
Llama-2-7B's layer and coefficient scaled to its depth (inferred); ``cp_depth_scaled`` scales the output
layer too (kvembed's earlier inference).
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import ContrastivePrompting, MethodSpec
from .prompteol import PROMPTEOL

SUMMARIES = {
    "authors": "Contrastive Prompting (Cheng et al. 2025, arXiv 2505.12831), as zifengcheng/CP runs it; the "
               "penultimate layer where the official script has no entry (inferred)",
    "depth_scaled": "Contrastive Prompting with Llama-2-7B's official entry scaled to the backbone's depth, output "
                    "layer included (kvembed's earlier inference)",
}
METHODS = [
    MethodSpec(f"cp{suffix}", Prompt.same(PROMPTEOL), "last", SUMMARIES[rule],
               contrastive=ContrastivePrompting(rule=rule), preprocess="prompteol")
    for suffix, rule in (("", "authors"), ("_depth_scaled", "depth_scaled"))
]
