"""Registry of named methods: ``get_method(name)`` and ``METHOD_NAMES``."""

from __future__ import annotations

from . import cp, echo, kvembed, pooling_baselines, prompteol, token_prepending
from ..prompts import Prompt
from .base import ContrastivePrompting, MethodSpec, Routing, TokenPrepending

METHODS: dict[str, MethodSpec] = {
    m.name: m
    for module in (kvembed, pooling_baselines, prompteol, echo, token_prepending, cp)
    for m in module.METHODS
}
METHOD_NAMES = tuple(METHODS)

# Named prompt presets, for prompt ablations (``prompt=prompteol`` on any method).
PROMPTS = {
    "none": Prompt(None, None),
    "compression": kvembed.COMPRESSION_PROMPT,
    "prompteol": Prompt.same(prompteol.PROMPTEOL),
    "pretcot": Prompt.same(prompteol.PRETCOT),
    "ke": Prompt.same(prompteol.KE),
    "echo": echo.ECHO,
}


def get_method(name: str | MethodSpec) -> MethodSpec:
    """The named method; a ValueError lists the valid names."""
    if isinstance(name, MethodSpec):
        return name
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; choose one of {list(METHODS)}")
    return METHODS[name]


__all__ = ["ContrastivePrompting", "MethodSpec", "Routing", "TokenPrepending", "METHODS", "METHOD_NAMES", "PROMPTS", "get_method"]
