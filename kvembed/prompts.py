"""Prompt templates and their tokenisation, as the reference implementations do it.

A template is a string with ``{text}`` where the input goes (once, or twice for Echo), and optionally
``{pst}`` (Token Prepending's placeholder token ``<PST>``), ``{eos}`` (the tokenizer's end-of-sequence
token) and ``{instruction}`` (a task instruction given with the texts, never pooled). Two tokenisations,
because the methods' reference code differs:

* ``whole`` (PromptEOL, PretCoT, KE, Token Prepending, Contrastive Prompting, KV-Embedding): the text is
  put into the template and the *whole string* is tokenised once, as ``tokenizer(prompt)`` does in every
  reference implementation, so BPE merges across the template/text boundary (``."``) are the same.
* ``pieces`` (Echo): each template piece and each copy of the text is tokenised on its own and the ids
  concatenated, as echo-embeddings' ``EchoParser`` does.

Over-long inputs, ``whole``: truncated *inside the text*: the text is cut at one of its own token
boundaries and the whole prompt tokenised again, so the template's suffix — hence the final token that
KV-Embedding re-routes and last-token pooling reads — always survives; the whole input fits ``max_length``.
``pieces``: as ``EchoParser`` with ``max_length``, *each piece* keeps at most ``max_length`` tokens (so each
copy of the text keeps up to ``max_length`` tokens, and the input can be about twice as long).

``MethodInputs`` applies one method's templates: one ``PromptTokenizer`` per role, Token Prepending's
``<PST>`` token and Contrastive Prompting's contrast prompt. ``Encoder`` and ``ParallelEncoder`` both tokenise
through it.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

TEXT, PST, EOS, INSTRUCTION = "{text}", "{pst}", "{eos}", "{instruction}"
PLACEHOLDER_TOKEN = "<PST>"  # Token Prepending's placeholder, a token added to the tokenizer
_SLOTS = re.compile(r"(\{text\}|\{pst\}|\{eos\}|\{instruction\})")
ROLES = ("document", "query")
TOKENIZATIONS = ("whole", "pieces")


def prompteol_clean(text: str) -> str:
    """The sentence clean-up of the PromptEOL family's reference batcher (kongds/scaling_sentemb, and the
    Token Prepending and Contrastive Prompting code built on it): end with a full stop, turn double
    quotes into single ones (the template quotes the text), and a final '?' into '.'."""
    if text and text[-1] not in ".?\"'":
        text += "."
    text = text.replace('"', "'")
    if text and text[-1] == "?":
        text = text[:-1] + "."
    return text


PREPROCESSORS: dict[str, Callable[[str], str]] = {"prompteol": prompteol_clean}


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
    def same(template: str | None) -> Prompt:
        return Prompt(template, template)


RAW = Prompt(None, None)


def validate_template(template: str) -> None:
    """A clear error for templates kvembed cannot use."""
    if TEXT not in template:
        raise ValueError(f"Prompt template {template!r} has no {TEXT} placeholder")
    stray = _SLOTS.sub("", template)
    if re.search(r"\{[a-z_]*\}", stray):
        raise ValueError(f"Prompt template {template!r} has an unknown placeholder; use {TEXT}, {PST}, {EOS} "
                         f"and {INSTRUCTION}")


def with_placeholder(tokenizer: Any) -> Any:
    """A copy of ``tokenizer`` that knows ``<PST>`` as one added token (the shared one is left alone)."""
    tok = copy.deepcopy(tokenizer)
    tok.add_tokens([PLACEHOLDER_TOKEN])
    return tok


def placeholder_id(tokenizer: Any) -> int | None:
    """The id of ``<PST>`` in ``tokenizer``, or None when it is not one of its tokens. Compared by id: a
    sentencepiece-style tokenizer (Mistral, Llama-2) spells the added token back as ``▁<PST>``."""
    token_id = tokenizer.convert_tokens_to_ids(PLACEHOLDER_TOKEN)
    if token_id is None or token_id == tokenizer.unk_token_id:
        return None
    ids = tokenizer(PLACEHOLDER_TOKEN, add_special_tokens=False)["input_ids"]
    return token_id if ids == [token_id] else None


@dataclass(frozen=True)
class Encoded:
    """One tokenised input.

    text_span: tokens of the (last copy of the) text; pst_index: the placeholder's position;
    content_start: the first token after the tokenizer's leading special tokens (BOS);
    negative: Contrastive Prompting's contrast prompt around the same text.
    """

    ids: tuple[int, ...]
    text_span: tuple[int, int]
    pst_index: int | None
    truncated: bool
    content_start: int = 0
    negative: Encoded | None = None


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

    def __init__(self, tokenizer: Any, template: str | None, max_length: int, *, tokenization: str = "whole",
                 preprocess: str | None = None) -> None:
        if max_length is None or int(max_length) < 1:
            raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
        if tokenization not in TOKENIZATIONS:
            raise ValueError(f"Unknown tokenization {tokenization!r}; choose one of {TOKENIZATIONS}")
        if preprocess is not None and preprocess not in PREPROCESSORS:
            raise ValueError(f"Unknown text preprocessing {preprocess!r}; choose one of {sorted(PREPROCESSORS)}")
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = int(max_length)
        self.tokenization = tokenization
        self.preprocess = PREPROCESSORS[preprocess] if preprocess else None
        self.prefix, suffix = special_tokens_around(tokenizer)
        # With a template the final token must be the template's last token, so no trailing specials.
        self.suffix = suffix if template is None else []
        if template is not None:
            validate_template(template)
        self.pieces = [p for p in _SLOTS.split(template if template is not None else TEXT) if p]
        self.n_copies = self.pieces.count(TEXT)
        self.pst_id = None
        if PST in self.pieces:
            self.pst_id = placeholder_id(tokenizer)
            if self.pst_id is None:
                raise ValueError(f"Template {template!r} has {PST} but the tokenizer has no {PLACEHOLDER_TOKEN} "
                                 "token; pass kvembed.prompts.with_placeholder(tokenizer)")
        if EOS in self.pieces and tokenizer.eos_token is None:
            raise ValueError(f"Template {template!r} has {EOS} but the tokenizer has no eos token")
        self.literal_ids = {p: self._tok(p) for p in self.pieces if p not in (TEXT, PST, EOS, INSTRUCTION)}
        if tokenization == "pieces":  # EchoParser caps every piece, literal ones too
            self.literal_ids = {p: ids[:self.max_length] for p, ids in self.literal_ids.items()}
        self.has_instruction = INSTRUCTION in self.pieces
        fixed = len(self.prefix) + len(self.suffix) + len(self._ids_of([""], "")[0][0])
        if template is not None and tokenization == "whole" and fixed >= self.max_length:
            raise ValueError(f"max_length={self.max_length} leaves no room for the text: the prompt "
                             f"itself takes {fixed} tokens")
        self.fixed = fixed

    # ---------------------------------------------------------------- helpers
    def _tok(self, s: str, offsets: bool = False):
        out = self.tokenizer(s, add_special_tokens=False, return_offsets_mapping=offsets)
        return (out["input_ids"], out["offset_mapping"]) if offsets else out["input_ids"]

    def _fill(self, text: str, instruction: str | None) -> tuple[str, tuple[int, int]]:
        """The prompt string and the character span of the last copy of the text in it."""
        parts, pos, span = [], 0, (0, 0)
        for p in self.pieces:
            s = {TEXT: text, PST: PLACEHOLDER_TOKEN, EOS: self.tokenizer.eos_token, INSTRUCTION: instruction}.get(p, p)
            if p == TEXT:
                span = (pos, pos + len(s))
            parts.append(s)
            pos += len(s)
        return "".join(parts), span

    def _ids_of(self, texts: Sequence[str], instruction: str | None) -> list[tuple[list[int], tuple[int, int]]]:
        """Token ids (without the tokenizer's own specials) and the text's token span, per text."""
        if self.tokenization == "pieces":
            return [self._pieces(t, instruction) for t in texts]
        filled = [self._fill(t, instruction) for t in texts]
        enc = self.tokenizer([f for f, _ in filled], add_special_tokens=False, return_offsets_mapping=True)
        return [(list(ids), _token_span(offs, span))
                for ids, offs, (_, span) in zip(enc["input_ids"], enc["offset_mapping"], filled)]

    def _pieces(self, text: str, instruction: str | None) -> tuple[list[int], tuple[int, int]]:
        # EchoParser._tokenize_piece: every piece is tokenised on its own and cut to max_length tokens
        text_ids = (self._tok(text) if text else [])[:self.max_length]
        ids: list[int] = []
        span = (0, 0)
        for p in self.pieces:
            if p == INSTRUCTION:
                ids.extend((self._tok(instruction) if instruction else [])[:self.max_length])
            elif p == TEXT:
                span = (len(ids), len(ids) + len(text_ids))
                ids.extend(text_ids)
            elif p == EOS:
                ids.append(self.tokenizer.eos_token_id)
            elif p == PST:
                ids.append(self.pst_id)
            else:
                ids.extend(self.literal_ids[p])
        return ids, span

    def _cut(self, text: str, ids_len: int, instruction: str | None) -> tuple[list[int], tuple[int, int], str]:
        """Cut ``text`` at its own token boundaries until the whole prompt fits."""
        budget = self.max_length - len(self.prefix) - len(self.suffix)
        text_ids, offsets = self._tok(text, offsets=True)
        keep = len(text_ids) - math.ceil((ids_len - budget) / self.n_copies)
        while True:
            keep = max(keep, 0)
            cut = text[: offsets[keep - 1][1]] if keep > 0 else ""
            ((ids, span),) = self._ids_of([cut], instruction)
            if len(ids) <= budget or keep == 0:
                return ids, span, cut
            keep -= max(1, math.ceil((len(ids) - budget) / self.n_copies))

    def encode(self, texts: Sequence[str], instruction: str | None = None) -> list[Encoded]:
        """Tokenise every text into the template (``instruction`` fills its ``{instruction}`` slot)."""
        if self.has_instruction and instruction is None:
            raise ValueError(f"Template {self.template!r} has {INSTRUCTION}: pass the task instruction")
        if instruction is not None and not self.has_instruction:
            raise ValueError(f"Template {self.template!r} has no {INSTRUCTION} slot for the instruction")
        if self.preprocess is not None:
            texts = [self.preprocess(t) for t in texts]
        budget = self.max_length - len(self.prefix) - len(self.suffix)
        out = []
        for n, (ids, span) in enumerate(self._ids_of(texts, instruction)):
            if self.tokenization == "pieces":
                truncated = bool(texts[n]) and len(self._tok(texts[n])) > self.max_length
            else:
                truncated = len(ids) > budget
                if truncated:
                    ids, span, _ = self._cut(texts[n], len(ids), instruction)
            full = self.prefix + ids + self.suffix
            if not full:
                raise ValueError(f"texts[{n}] is empty and prompt=None adds no tokens: nothing to encode")
            shift = len(self.prefix)
            pst = None
            if self.pst_id is not None:
                pst = shift + ids.index(self.pst_id)
            out.append(Encoded(tuple(full), (span[0] + shift, span[1] + shift), pst, truncated, shift))
        return out


def _token_span(offsets: Sequence[tuple[int, int]], chars: tuple[int, int]) -> tuple[int, int]:
    """Tokens whose characters overlap ``chars`` (a merged boundary token like '."' belongs to both)."""
    c0, c1 = chars
    hit = [i for i, (a, z) in enumerate(offsets) if z > a and z > c0 and a < c1]
    if not hit:
        start = next((i for i, (a, _) in enumerate(offsets) if a >= c0), len(offsets))
        return start, start
    return hit[0], hit[-1] + 1


def length_sorted_batches(encoded: Sequence[Encoded], batch_size: int, sort: bool = True) -> list[list[int]]:
    """Indices of each batch: longest first (minimal padding; an out-of-memory error shows up first)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i].ids)) if sort else list(range(len(encoded)))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


class MethodInputs:
    """Tokenises texts for ``method`` on ``tokenizer`` (a copy with ``<PST>`` added for Token Prepending,
    as the official code adds it; the shared tokenizer is left alone)."""

    def __init__(self, tokenizer: Any, method: Any, max_length: int) -> None:  # method: a methods.base.MethodSpec
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
