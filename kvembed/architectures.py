"""The decoder architectures kvembed supports, each declared once: the ``model_type`` values it loads as,
what it stresses, and its tiny stand-in's configuration. The loader's check, the tiny models (and their named
backbones ``tiny-<name>``) and the tests' architecture list are derived from ``ARCHITECTURES``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Architecture:
    """One decoder family: ``model_types`` (transformers' ``config.model_type`` values), ``stresses`` (what its
    tiny stand-in exercises), ``config_class`` and ``standin`` (the stand-in's transformers config class and
    its settings beyond the common small size), ``bos`` (its tokenizer puts BOS before every text)."""

    name: str
    model_types: tuple[str, ...]
    stresses: str
    config_class: str
    standin: dict[str, Any] = field(default_factory=dict)
    bos: bool = False


ARCHITECTURES: dict[str, Architecture] = {a.name: a for a in (
    Architecture("llama", ("llama",), "grouped-query attention", "LlamaConfig", bos=True),
    Architecture("mistral", ("mistral",), "a sliding window (8) shorter than the inputs", "MistralConfig",
                 {"sliding_window": 8}, bos=True),
    Architecture("qwen3", ("qwen3",), "q/k-norm", "Qwen3Config", {"use_sliding_window": False}),
    Architecture("qwen2", ("qwen2",), "q/k/v projection biases (drawn non-zero)", "Qwen2Config",
                 {"use_sliding_window": False}),
    # query_pre_attn_scalar != head_dim, so attention's own scaling (not 1/sqrt(head_dim)) is exercised
    Architecture("gemma3", ("gemma", "gemma3_text"), "local and global layers, its own attention scaling",
                 "Gemma3TextConfig", {"sliding_window": 8, "query_pre_attn_scalar": 24,
                                      "layer_types": ["sliding_attention", "sliding_attention", "full_attention"] * 2},
                 bos=True),
)}
SUPPORTED_MODEL_TYPES = tuple(t for a in ARCHITECTURES.values() for t in a.model_types)
