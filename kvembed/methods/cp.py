"""Contrastive Prompting (Cheng et al., ACL 2025, arXiv 2505.12831), as zifengcheng/CP runs it.

The PromptEOL prompt, plus a contrast prompt that asks for what does *not* matter:
``The irrelevant information of this sentence : "[X]" means in one word:"``. At one early layer the
last token's input to the attention output projection (``o_proj``) is replaced by
``coeff * (A - B)``: A from the PromptEOL prompt, B from the contrast prompt run to that layer
(``evaluate_intervention.py`` with ``--intervention_plan scaled --intervention_location att_head``, the
official run script's setting). The embedding is the last token's state at the official output layer.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import ContrastivePrompting, MethodSpec
from .prompteol import PROMPTEOL

METHODS = [
    MethodSpec("cp", Prompt.same(PROMPTEOL), "last", contrastive=ContrastivePrompting(), preprocess="prompteol",
               reference="Cheng et al. 2025, arXiv 2505.12831; zifengcheng/CP evaluate_intervention.py, "
                         "run_intervention_eval.sh"),
]
