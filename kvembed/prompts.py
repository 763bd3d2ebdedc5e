"""Prompt templates and suffix-preserving tokenisation.

A template is a string with ``{text}`` where the input goes (once, or twice for Echo) and optionally
``{pst}`` where Token Prepending's placeholder token sits. Templates are tokenised piece by piece, so
that over-long inputs are truncated *inside the text* and the template's suffix — hence the final
token that KV-Embedding re-routes and last-token pooling reads — always survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

TEXT, PST = "{text}", "{pst}"
_PIECES = re.compile(r"(\{text\}|\{pst\})")
ROLES = ("document", "query")


@dataclass(frozen=True)
class Prompt:
    """Templates per role; ``None`` for a role means the raw text (tokenizer's own special tokens only)."""

    document: str | None
    query: str | None = None

    def for_role(self, role: str) -> str | None:
        if role not in ROLES:
            raise ValueError(f"Unknown prompt_type {role!r}; choose one of {ROLES}")
        if role == "query" and self.query is not None:
            return self.query
        return self.document

    @staticmethod
    def same(template: str | None) -> "Prompt":
        return Prompt(template, template)


RAW = Prompt(None, None)


def validate_template(template: str) -> None:
    """A clear error for templates kvembed cannot use."""
    if TEXT not in template:
        raise ValueError(f"Prompt template {template!r} has no {TEXT} placeholder")
    stray = re.sub(r"\{text\}|\{pst\}", "", template)
    if re.search(r"\{[a-z_]*\}", stray):
        raise ValueError(f"Prompt template {template!r} has an unknown placeholder; use {TEXT} and {PST}")


def _is_slot(piece: str) -> bool:
    """Is this template piece a slot ({text}, possibly with its leading space, or {pst})?"""
    return piece == PST or piece.endswith(TEXT)


@dataclass(frozen=True)
class Encoded:
    """One tokenised input: ids, the span of the (last copy of the) text, and the placeholder index."""

    ids: tuple[int, ...]
    text_span: tuple[int, int]
    pst_index: int | None
    truncated: bool


def special_tokens_around(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special ids a tokenizer puts before and after a text (e.g. BOS for Llama, none for Qwen)."""
    probe = "kvembed probe"
    plain = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start:start + len(plain)] == plain:
            return list(full[:start]), list(full[start + len(plain):])
    return [], []


class PromptTokenizer:
    """Tokenises texts into a template, truncating inside the text to fit ``max_length`` tokens."""

    def __init__(self, tokenizer: Any, template: str | None, max_length: int,
                 placeholder_id: int | None = None) -> None:
        if max_length is None or int(max_length) < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = int(max_length)
        self.prefix, suffix = special_tokens_around(tokenizer)
        # With a template the final token must be the template's last token, so no trailing specials.
        self.suffix = suffix if template is None else []
        self.placeholder_id = placeholder_id
        self.pieces = self._split(template)
        self.literal_ids = {i: tokenizer(p, add_special_tokens=False)["input_ids"]
                            for i, p in enumerate(self.pieces) if not _is_slot(p)}
        fixed = len(self.prefix) + len(self.suffix) + sum(len(v) for v in self.literal_ids.values())
        fixed += sum(1 for p in self.pieces if p == PST)
        self.n_copies = sum(1 for p in self.pieces if p.endswith(TEXT))
        self.text_budget = (self.max_length - fixed) // self.n_copies
        if self.text_budget < 1:
            raise ValueError(f"max_length={self.max_length} leaves no room for the text: the prompt "
                             f"itself takes {fixed} tokens")
        if PST in self.pieces and placeholder_id is None:
            raise ValueError(f"Template {template!r} has {PST} but no placeholder token id was given")

    @staticmethod
    def _split(template: str | None) -> list[str]:
        if template is None:
            return [TEXT]
        validate_template(template)
        raw = [p for p in _PIECES.split(template)]
        # Whitespace before {text} belongs to the text ("Context: x" → "Context:" + " x"), which is
        # how BPE vocabularies with leading-space tokens see it in running text.
        pieces: list[str] = []
        for i, p in enumerate(raw):
            if p == TEXT and pieces and not _is_slot(pieces[-1]):
                stripped = pieces[-1].rstrip(" ")
                if stripped != pieces[-1]:
                    pieces[-1] = stripped
                    pieces.append(" " + TEXT)
                    continue
            pieces.append(p)
        return [p for p in pieces if p != ""]

    def encode(self, texts: Sequence[str]) -> list[Encoded]:
        """Tokenise every text into the template."""
        text_pieces = {p for p in self.pieces if p.endswith(TEXT)}
        tokenised = {}
        for piece in text_pieces:
            lead = piece[: -len(TEXT)]
            batch = [lead + t if t else t for t in texts]
            tokenised[piece] = self.tokenizer(batch, add_special_tokens=False)["input_ids"] if batch else []
        out = []
        for n in range(len(texts)):
            ids = list(self.prefix)
            span = (len(ids), len(ids))
            pst = None
            truncated = False
            for i, piece in enumerate(self.pieces):
                if piece in tokenised:
                    tid = tokenised[piece][n]
                    if len(tid) > self.text_budget:
                        tid, truncated = tid[: self.text_budget], True
                    span = (len(ids), len(ids) + len(tid))
                    ids.extend(tid)
                elif piece == PST:
                    pst = len(ids)
                    ids.append(self.placeholder_id)
                else:
                    ids.extend(self.literal_ids.get(i, []))
            ids.extend(self.suffix)
            if not ids:
                raise ValueError(f"texts[{n}] is empty and prompt=None adds no tokens: nothing to encode")
            out.append(Encoded(tuple(ids), span, pst, truncated))
        return out


def prompt_tokenizer_for(tokenizer: Any, prompt: Prompt, role: str, max_length: int) -> PromptTokenizer:
    """The PromptTokenizer of one role; Token Prepending's placeholder is the pad (or eos) token."""
    placeholder = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return PromptTokenizer(tokenizer, prompt.for_role(role), max_length, placeholder)


def length_sorted_batches(encoded: Sequence[Encoded], batch_size: int, sort: bool = True) -> list[list[int]]:
    """Indices of each batch: longest first (minimal padding; an out-of-memory error shows up first)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i].ids)) if sort else list(range(len(encoded)))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
