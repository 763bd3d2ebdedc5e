"""Registry of named methods: ``get_method(name)`` and ``METHOD_NAMES``."""

from __future__ import annotations

from typing import Any

from ..prompts import RAW, ROLES, Prompt
from . import cp, echo, kvembed, pooling_baselines, prompteol, token_prepending
from .base import DEFAULT, ContrastivePrompting, MethodSpec, Routing, TokenPrepending

METHODS: dict[str, MethodSpec] = {
    m.name: m
    for module in (kvembed, pooling_baselines, prompteol, echo, token_prepending, cp)
    for m in module.METHODS
}
METHOD_NAMES = tuple(METHODS)

# Named prompt presets, for prompt ablations (``prompt=prompteol`` on any method).
PROMPTS = {
    "none": RAW,
    "compression": kvembed.COMPRESSION_PROMPT,
    "prompteol": Prompt.same(prompteol.PROMPTEOL),
    "pretcot": Prompt.same(prompteol.PRETCOT),
    "ke": Prompt.same(prompteol.KE),
    "echo": echo.ECHO,
    "echo_period": Prompt.same(echo.REWRITE.format(text="{text}", separator=echo.ECHO_SEPARATORS["period"])),
    "echo_finetuned": echo.ECHO_FINETUNED,
}


def resolve_prompt(prompt: Any) -> Prompt:
    """None = the raw text; a preset name; a template with {text}; a {document:, query:} mapping."""
    if prompt is None:
        return RAW
    if isinstance(prompt, Prompt):
        return prompt
    if isinstance(prompt, str):
        return PROMPTS[prompt] if prompt in PROMPTS else Prompt.same(prompt)
    if hasattr(prompt, "items"):
        data = dict(prompt.items())
        unknown = set(data) - set(ROLES)
        if unknown:
            raise ValueError(f"Prompt roles {sorted(unknown)} are unknown; use {ROLES}")
        return Prompt(data.get("document"), data.get("query", data.get("document")))
    raise ValueError(f"prompt must be 'default', None, a preset {sorted(PROMPTS)}, a template string with "
                     f"{{text}} or a dict per role, got {prompt!r}")


def get_method(name: str | MethodSpec) -> MethodSpec:
    """The named method; a ValueError lists the valid names."""
    if isinstance(name, MethodSpec):
        return name
    if name not in METHODS:
        raise ValueError(f"Unknown method {name!r}; choose one of {list(METHODS)}")
    return METHODS[name]


__all__ = ["DEFAULT", "resolve_prompt", "ContrastivePrompting", "MethodSpec", "Routing", "TokenPrepending",
           "METHODS", "METHOD_NAMES", "PROMPTS", "get_method"]
