"""What a method that hooks into the model needs, and nothing of the methods themselves (so a module of
``kvembed/methods`` can import it): the decoder blocks of a base model, and hooks removed on exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def decoder_layers(model) -> torch.nn.ModuleList:
    """The decoder blocks of a base model (LlamaModel, Qwen3Model, ...)."""
    for path in ("layers", "model.layers", "language_model.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise ValueError(f"Cannot find the decoder layers of {type(model).__name__}")


@contextmanager
def removing(*handles) -> Iterator[None]:
    """Keep hook ``handles`` for the block's duration, then remove them (also on error)."""
    try:
        yield
    finally:
        for h in handles:
            h.remove()
