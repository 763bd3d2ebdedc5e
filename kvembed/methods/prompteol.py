"""The PromptEOL family: a one-word summarisation prompt, embedding = the last token's state.

``prompteol`` (Jiang et al. 2023, arXiv 2307.16645): ``This sentence : "[X]" means in one word:"``.
``pretcot`` (Zhang et al. 2024, arXiv 2404.03921, Pretended Chain of Thought):
``After thinking step by step , this sentence : "[X]" means in one word:"``.
``ke`` (same paper, Knowledge Enhancement): ``The essence of a sentence is often captured by its main
subjects and actions, while descriptive terms provide additional but less central details. With this
in mind , this sentence : "[X]" means in one word:"``.
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
    MethodSpec("prompteol", Prompt.same(PROMPTEOL), "last", reference="Jiang et al. 2023, arXiv 2307.16645"),
    MethodSpec("pretcot", Prompt.same(PRETCOT), "last", reference="Zhang et al. 2024, arXiv 2404.03921"),
    MethodSpec("ke", Prompt.same(KE), "last", reference="Zhang et al. 2024, arXiv 2404.03921"),
]
