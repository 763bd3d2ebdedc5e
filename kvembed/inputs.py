"""Texts → model inputs for one method: its templates per role, its tokenisation and text clean-up, Token
Prepending's ``<PST>`` token and Contrastive Prompting's contrast prompt. ``Encoder`` and
``ParallelEncoder`` both tokenise through this one class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from .methods.base import MethodSpec
from .prompts import ROLES, Encoded, PromptTokenizer, with_placeholder


class MethodInputs:
    """Tokenises texts for ``method`` on ``tokenizer`` (a copy with ``<PST>`` added for Token Prepending,
    as the official code adds it; the shared tokenizer is left alone)."""

    def __init__(self, tokenizer: Any, method: MethodSpec, max_length: int) -> None:
        self.method = method
        self.max_length = int(max_length)
        self.tokenizer = with_placeholder(tokenizer) if method.token_prepending else tokenizer
        self._by_role = {role: self._make(method.prompt.for_role(role)) for role in ROLES}
        instructed = method.instructed_prompt
        self._instructed = {role: self._make(instructed.for_role(role)) for role in ROLES} if instructed else {}
        self._negative = self._make(method.contrastive.negative) if method.contrastive else None

    def _make(self, template: str | None) -> PromptTokenizer:
        return PromptTokenizer(self.tokenizer, template, self.max_length, tokenization=self.method.tokenization,
                               preprocess=self.method.preprocess)

    def for_role(self, role: str) -> PromptTokenizer:
        if role not in ROLES:
            raise ValueError(f"Unknown prompt_type {role!r}; choose one of {ROLES}")
        return self._by_role[role]

    @property
    def takes_instructions(self) -> bool:
        """Whether the method places a task instruction itself (a template slot) rather than before the text."""
        return bool(self._instructed)

    def encode(self, texts: Sequence[str], role: str, instruction: str | None = None) -> list[Encoded]:
        """Encoded inputs of ``texts`` in ``role``'s template (with the contrast prompt attached for CP).

        ``instruction``: a task instruction for the method's ``instructed_prompt`` (a role whose instructed
        template has no ``{instruction}`` slot, e.g. Echo's documents, is encoded without it)."""
        tokenizer = self.for_role(role)
        if instruction is not None:
            if not self._instructed:
                raise ValueError(f"Method {self.method.name!r} has no instruction slot; put the instruction "
                                 "before the text instead")
            if self._instructed[role].has_instruction:
                tokenizer = self._instructed[role]
                instruction = self.method.instruction_format.format(instruction=instruction)
            else:
                tokenizer = self._instructed[role]
                instruction = None
        encoded = tokenizer.encode(texts, instruction)
        if self._negative is not None:
            encoded = [replace(e, negative=n) for e, n in zip(encoded, self._negative.encode(texts))]
        return encoded
