"""kvembed: training-free text embeddings from frozen decoder-only LLMs by KV re-routing.

``from kvembed import Encoder`` is the entry point; see README.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["Encoder", "load_backbone", "get_method", "METHOD_NAMES", "BACKBONES", "__version__"]


def __getattr__(name: str):
    # Lazy: `import kvembed` stays cheap (no torch/transformers) for the CLI's --help and the configs.
    if name == "Encoder":
        from .encoder import Encoder

        return Encoder
    if name in ("load_backbone", "BACKBONES"):
        from . import backbones

        return getattr(backbones, name)
    if name in ("get_method", "METHOD_NAMES"):
        from . import methods

        return getattr(methods, name)
    raise AttributeError(f"module 'kvembed' has no attribute {name!r}")
