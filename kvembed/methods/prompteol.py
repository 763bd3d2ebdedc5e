"""The PromptEOL family: a one-word summarisation prompt, embedding = the last token's final state.

``prompteol`` (Jiang et al. 2023, arXiv 2307.16645): ``This sentence : "[X]" means in one word:"``.
``pretcot`` (Zhang et al. 2024, arXiv 2404.03921, Pretended Chain of Thought):
``After thinking step by step , this sentence : "[X]" means in one word:"``.
``ke`` (same paper, Knowledge Enhancement): ``The essence of a sentence is often captured by its main
subjects and actions, while descriptive terms provide additional but less central details. With this
in mind , this sentence : "[X]" means in one word:"``.

As the reference batcher (kongds/scaling_sentemb ``evaluation.py``, reused by the Token Prepending and
Contrastive Prompting code): the sentence is cleaned (``prompteol_clean``), put into the template, and the
whole string tokenised with the tokenizer's own special tokens (BOS on Llama/Mistral).

Where the embedding is read: PromptEOL, the last token's final (normed) state, ``hidden_states[-1]``.
PretCoT and KE, the last token's **penultimate** state, ``hidden_states[-2]`` (the output of L-1 layers,
before the final norm): their authors' batcher (ZBWpro/PretCoTandKE ``evaluation.py``, ``batcher``:
``if direct_inference and prompt in ['Pretended_CoT', 'Knowledge_Enhancement']: outputs =
hidden_states[-2][:, -1, :]``), the same for every backbone it supports.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec

PROMPTEOL = 'This sentence : "{text}" means in one word:"'
PRETCOT = 'After thinking step by step , this sentence : "{text}" means in one word:"'
KE = ("The essence of a sentence is often captured by its main subjects and actions, while descriptive "
      "terms provide additional but less central details. With this in mind , this sentence : "
      '"{text}" means in one word:"')

METHODS = [
    MethodSpec("prompteol", Prompt.same(PROMPTEOL), "last",
               "PromptEOL (Jiang et al. 2023, arXiv 2307.16645), as kongds/scaling_sentemb runs it: the last "
               "token's final state", preprocess="prompteol"),
    MethodSpec("pretcot", Prompt.same(PRETCOT), "last",
               "Pretended Chain of Thought (Zhang et al. 2024, arXiv 2404.03921), as ZBWpro/PretCoTandKE runs it: "
               "the last token's penultimate state", preprocess="prompteol", output_layer=-2),
    MethodSpec("ke", Prompt.same(KE), "last",
               "Knowledge Enhancement (Zhang et al. 2024, arXiv 2404.03921), as ZBWpro/PretCoTandKE runs it: the "
               "last token's penultimate state", preprocess="prompteol", output_layer=-2),
]
