"""What a method is: data (a prompt, a pooling, optional re-routing, optional token prepending).

The mechanisms live elsewhere (``attention``, ``forward``, ``pooling``, ``prompts``); a method only
says which of them to use and how, so a new method or ablation is a few lines of data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..pooling import check_pooling
from ..prompts import Prompt

ROUTING_MODES = ("single", "two_pass", "bidirectional")
IMPLEMENTATIONS = ("flat", "masked")


@dataclass(frozen=True)
class Routing:
    """KV re-routing options.

    mode: ``single`` (the paper: same-pass last-token K/V as a prefix), ``two_pass`` (ablation: the
    prefix comes from a first plain pass), ``bidirectional`` (ablation: selected layers drop the
    causal mask instead). prefix_position: None keeps the final token's own RoPE rotation; an int
    re-rotates the prefix key to that position (ablation).
    """

    mode: str = "single"
    layers: Any = "auto"
    bias: float = 1.0
    prefix_position: int | None = None
    impl: str = "flat"

    def __post_init__(self) -> None:
        if self.mode not in ROUTING_MODES:
            raise ValueError(f"Unknown routing mode {self.mode!r}; choose one of {ROUTING_MODES}")
        if self.impl not in IMPLEMENTATIONS:
            raise ValueError(f"Unknown routing impl {self.impl!r}; choose one of {IMPLEMENTATIONS}")
        try:
            float(self.bias)
        except (TypeError, ValueError):
            raise ValueError(f"bias must be a number, got {self.bias!r}") from None
        if self.prefix_position is not None and int(self.prefix_position) < 0:
            raise ValueError(f"prefix_position must be >= 0 or None, got {self.prefix_position}")


@dataclass(frozen=True)
class TokenPrepending:
    """Token Prepending layers: the placeholder's state is replaced before layers [start, stop).

    stop defaults to ⌈stop_fraction·L⌉ (the TP paper uses layers 1-7 of LLaMA-2-7B's 32).
    """

    start: int = 1
    stop: int | None = None
    stop_fraction: float = 0.22

    def layer_range(self, num_layers: int) -> range:
        import math

        stop = self.stop if self.stop is not None else max(self.start + 1, math.ceil(self.stop_fraction * num_layers))
        if not 1 <= self.start < stop <= num_layers:
            raise ValueError(f"Token prepending layers [{self.start}, {stop}) must satisfy 1 <= start < stop <= "
                             f"{num_layers}")
        return range(self.start, stop)


@dataclass(frozen=True)
class MethodSpec:
    """A named embedding method."""

    name: str
    prompt: Prompt
    pooling: str
    routing: Routing | None = None
    token_prepending: TokenPrepending | None = None
    reference: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_pooling(self.pooling)
