"""``Encoder``: the public API. Texts in, L2-normalised float32 embeddings out.

    from kvembed import Encoder
    enc = Encoder.from_pretrained("smollm2-135m", method="kvembed")
    emb = enc.encode(["A girl is styling her hair."], prompt_type="document")
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import torch
from tqdm.auto import tqdm

from . import forward
from .backbones import Backbone, load_backbone
from .embed_cache import attach, cached_encode, role_key
from .methods import MethodSpec
from .overrides import Overrides, configure
from .pooling import pool
from .prompts import ROLES, Encoded, MethodInputs, length_sorted_batches
from .recipe import Recipe, resolve

if TYPE_CHECKING:
    from .embed_cache import EmbeddingCache

log = logging.getLogger(__name__)


def validate_texts(texts: Any) -> list[str]:
    """A list of strings, or a clear error naming the first offending index.

    Empty strings are valid: they are encoded as the prompt around an empty text. With ``prompt=None``
    and a tokenizer that adds no special tokens there is nothing to encode, and that is an error.
    """
    if isinstance(texts, str):
        raise TypeError("encode() takes a list of strings; wrap a single text as [text]")
    if not isinstance(texts, Sequence) and not hasattr(texts, "__iter__"):
        raise TypeError(f"encode() takes a list of strings, got {type(texts).__name__}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__} ({t!r:.40}), expected str")
    return texts


@runtime_checkable
class TextEncoder(Protocol):
    """What the evaluation and the harness need of an encoder; ``Encoder`` and ``ParallelEncoder`` meet it."""

    method: MethodSpec
    recipe: Recipe
    stats: dict[str, float]
    cache: EmbeddingCache | None

    @property
    def dim(self) -> int: ...

    @property
    def layers(self) -> tuple[int, ...]: ...

    def encode(self, texts: Sequence[str], prompt_type: str = "document", batch_size: int = 32,
               show_progress_bar: bool | None = None, instruction: str | None = None) -> np.ndarray: ...

    def describe(self) -> dict[str, Any]: ...

    def use_cache(self, folder: str | Path, mode: str = "readwrite") -> EmbeddingCache | None: ...


class EncodingSurface:
    """What ``Encoder`` and ``ParallelEncoder`` share: input checks, the embedding cache, and ``encode``
    over ``_encode_uncached`` (one process, or worker processes)."""

    cache: EmbeddingCache | None
    dim: int

    def encode(self, texts: Sequence[str], prompt_type: str = "document", batch_size: int = 32,
               show_progress_bar: bool | None = None, instruction: str | None = None) -> np.ndarray:
        """Embed ``texts`` → float32 array (N, hidden). Input order is kept; batch size does not matter.

        ``instruction``: a task instruction for methods with an instruction slot (Echo's ``Instruct:``
        piece; ``self.inputs.takes_instructions``)."""
        texts = validate_texts(texts)
        if prompt_type not in ROLES:
            raise ValueError(f"Unknown prompt_type {prompt_type!r}; choose one of {ROLES}")
        return cached_encode(self.cache, texts, role_key(prompt_type, instruction), self.dim,
                             lambda todo: self._encode_uncached(todo, prompt_type, batch_size, show_progress_bar,
                                                                instruction))

    def _encode_uncached(self, texts: list[str], role: str, batch_size: int, show: bool | None,
                         instruction: str | None = None) -> np.ndarray:
        raise NotImplementedError

    def use_cache(self, folder: str | Path, mode: str = "readwrite") -> EmbeddingCache | None:
        """Serve repeated texts from an on-disk cache keyed by this encoder's full configuration."""
        self.cache = attach(self, folder, mode)
        return self.cache


class Encoder(EncodingSurface):
    """Encode texts with a frozen decoder and one embedding method."""

    def __init__(self, backbone: Backbone, method: MethodSpec, *, max_length: int = 512,
                 padding_side: str = "right", normalize: bool = True) -> None:
        if padding_side not in forward.PADDING_SIDES:
            raise ValueError(f"padding_side must be one of {forward.PADDING_SIDES}, got {padding_side!r}")
        self.backbone = backbone
        self.method = method  # as the user configured it; ``recipe`` is what it became on this backbone
        self.max_length = int(max_length)
        self.padding_side = padding_side
        self.normalize = normalize
        self.sort_by_length = True  # False = arrival order (only to measure what sorting buys)
        self.recipe = resolve(method, backbone.facts)
        self.inputs = MethodInputs(backbone.tokenizer, self.recipe.spec, self.max_length)  # fails now on a bad template
        if self.recipe.pending:  # layers=auto: measured on this model
            model = {"backbone": backbone.source, "revision": backbone.revision, "dtype": backbone.dtype,
                     "max_length": self.max_length}
            self.recipe = self.recipe.measured(backbone.facts, self.layer_states, model)
        self.stats: dict[str, float] = {"texts": 0, "tokens": 0, "seconds": 0.0, "oom_halvings": 0}
        self.cache = None  # see use_cache()

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(cls, model: str | Backbone, method: str | MethodSpec = "kvembed", *,
                        overrides: Overrides | None = None, dtype: str = "auto", device: str = "auto",
                        max_length: int = 512, padding_side: str = "right", normalize: bool = True,
                        revision: str | None = None, **options: Any) -> Encoder:
        """Load ``model`` (named backbone, hub id, folder or GGUF file) and configure ``method``.

        ``overrides`` and/or option keywords (``layers``, ``bias``, ``pooling``, ``prompt``, ... : every
        field of ``kvembed.overrides.Overrides``) replace the method's own settings; ``prompt=None``
        encodes the raw text.
        """
        spec = configure(method, overrides, **options)  # an unknown option fails here, before loading
        backbone = model if isinstance(model, Backbone) else load_backbone(
            model, dtype=dtype, device=device, revision=revision)
        return cls(backbone, spec, max_length=max_length, padding_side=padding_side, normalize=normalize)

    def tokenize(self, texts: Sequence[str], role: str = "document", instruction: str | None = None) -> list[Encoded]:
        """Token ids of each text inside this method's template (truncated inside the text)."""
        encoded = self.inputs.encode(texts, role, instruction)
        n_trunc = sum(e.truncated for e in encoded)
        if n_trunc:
            log.info("%d of %d texts truncated to max_length=%d (inside the text)", n_trunc, len(texts),
                     self.max_length)
        return encoded

    # ---------------------------------------------------------------- properties
    @property
    def layers(self) -> tuple[int, ...]:
        """The re-routed layers (empty for methods without re-routing)."""
        return self.recipe.layers or ()

    @property
    def dim(self) -> int:
        return self.backbone.hidden_size

    def describe(self) -> dict[str, Any]:
        """Everything needed to reproduce this encoder's embeddings: the backbone, the recipe's columns and
        the input settings."""
        return {**self.backbone.columns(), **self.recipe.columns(), "max_length": self.max_length,
                "padding_side": self.padding_side}

    # ---------------------------------------------------------------- encoding
    def _batches(self, texts: list[str], role: str, batch_size: int, desc: str, show: bool | None,
                 instruction: str | None = None):
        encoded = self.tokenize(texts, role, instruction)
        plan = length_sorted_batches(encoded, batch_size, self.sort_by_length)
        show = len(texts) > 4 * batch_size if show is None else show
        for idx in tqdm(plan, desc=desc, disable=not show, unit="batch"):
            yield idx, self.make_batch([encoded[i] for i in idx])

    def make_batch(self, items: Sequence[Encoded]) -> forward.Batch:
        return forward.make_batch(items, self.backbone.tokenizer.pad_token_id, self.padding_side,
                                  self.backbone.device)

    def _encode_uncached(self, texts: list[str], role: str, batch_size: int, show: bool | None,
                         instruction: str | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        start = time.perf_counter()
        for idx, batch in self._batches(texts, role, batch_size, f"encode {self.method.name}", show, instruction):
            out[idx] = self.embed_batch(batch)
            self.stats["texts"] += len(idx)
            self.stats["tokens"] += batch.num_tokens
        self.stats["seconds"] += time.perf_counter() - start
        return out

    def embed_encoded(self, items: Sequence[Encoded]) -> np.ndarray:
        """Embed already tokenised inputs as one batch (what a ParallelEncoder worker receives)."""
        return self.embed_batch(self.make_batch(items))

    def embed_batch(self, batch: forward.Batch) -> np.ndarray:
        """Embed one batch; on CUDA out-of-memory, split it in halves and retry (logged, counted)."""
        try:
            recipe = self.recipe
            out = forward.run(self.backbone.model, batch, recipe, output_hidden_states=recipe.output_layer is not None)
            hidden = forward.states_at(out, recipe.output_layer)
            counted = batch.real if recipe.mean_with_specials else batch.content
            emb = pool(hidden, counted, batch.text_mask, batch.last_index, recipe.pooling, self.normalize)
            return emb.cpu().numpy()
        except torch.OutOfMemoryError:
            n = batch.input_ids.shape[0]
            if n == 1:
                raise
            self.stats["oom_halvings"] += 1
            log.warning("Out of memory on a batch of %d; retrying it as two batches of %d and %d",
                        n, n // 2, n - n // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            return np.concatenate([self.embed_batch(half) for half in forward.split_batch(batch)])

    def layer_states(self, texts: Sequence[str], representation: str = "last", batch_size: int = 32,
                     role: str = "document") -> np.ndarray:
        """(L, N, H) float32 states entering each decoder layer, without re-routing.

        ``representation``: ``last`` (final real token) or ``mean`` (average over real tokens).
        """
        texts = validate_texts(texts)
        L = self.backbone.num_layers
        out = np.zeros((L, len(texts), self.dim), dtype=np.float32)
        for idx, batch in self._batches(texts, role, batch_size, "layer states", None):
            states = forward.run(self.backbone.model, batch, self.recipe.without_rerouting(),
                                 output_hidden_states=True).hidden_states
            for layer in range(L):
                h = states[layer].float()
                if representation == "last":
                    v = h[torch.arange(h.shape[0], device=h.device), batch.last_index]
                elif representation == "mean":
                    w = batch.real.unsqueeze(-1).float()
                    v = (h * w).sum(1) / w.sum(1)
                else:
                    raise ValueError(f"Unknown representation {representation!r}; choose 'last' or 'mean'")
                out[layer, idx] = v.cpu().numpy()
        return out
