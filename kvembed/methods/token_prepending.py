"""Token Prepending (Fu et al. 2025, ACL, arXiv 2412.11556), as fuyuchenIfyw/token_prepending runs it.

A new token ``<PST>`` (added to the tokenizer; its embedding row is random) sits before the quoted
sentence: ``This sentence : <PST> "[X]" means in one word:"`` (``evaluate.py``). Before each decoder layer
in [start, stop) the placeholder's state is overwritten by the last token's state entering that layer
(``senllm/modeling_llama.py``: the loop ``tp_starting_index <= i < tp_exiting_index``); the embedding is
the last token's state at the official ``output_layer`` (early exit, per model in ``config.yaml``). The
sentence clean-up and whole-string tokenisation are PromptEOL's. The official code pairs TP with the
PromptEOL, PretCoT and KE prompts (and MetaEOL, an average over eight prompts, not offered here).
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec, TokenPrepending

TEMPLATE = 'This sentence : {pst} "{text}" means in one word:"'
PRETCOT = 'After thinking step by step , this sentence : {pst} "{text}" means in one word:"'
KE = ("The essence of a sentence is often captured by its main subjects and actions, while descriptive "
      "terms provide additional but less central details. With this in mind , this sentence : "
      '{pst} "{text}" means in one word:"')
REFERENCE = "Fu et al. 2025, arXiv 2412.11556; fuyuchenIfyw/token_prepending evaluate.py, config.yaml"

METHODS = [
    MethodSpec(name, Prompt.same(template), "last", token_prepending=TokenPrepending(), preprocess="prompteol",
               reference=REFERENCE)
    for name, template in (("token_prepending", TEMPLATE), ("token_prepending_pretcot", PRETCOT),
                           ("token_prepending_ke", KE))
]
