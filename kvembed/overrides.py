"""A user's overrides of a method's own settings: one typed object from every surface to the method.

Each option is declared once, below, as a field of ``Overrides`` with how it is parsed and where it
acts. ``Encoder.from_pretrained``, ``ParallelEncoder``, the ``kvembed encode`` command line, the Hydra
schema and the cost plan all build an ``Overrides`` and derive their option names from it, so adding an
option is one declaration here plus the code where it acts. ``DEFAULT`` (the one sentinel) keeps the
method's own setting; every other value is parsed into its type when the object is made.

    spec = Overrides(layers="3-5", bias=2).apply(get_method("kvembed"))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .layers import LayerSpec, parse_layers
from .methods import PROMPTS, get_method, resolve_prompt
from .methods.base import DEFAULT, IMPLEMENTATIONS, MethodSpec
from .pooling import check_pooling
from .prompts import Prompt

log = logging.getLogger(__name__)


def is_default(value: Any) -> bool:
    return isinstance(value, str) and value == DEFAULT


def parse_bias(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"bias must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"bias must be a number, got {value!r}") from None


def parse_position(value: Any) -> int | None:
    """None (or 'none') keeps the final token's own RoPE rotation; an int >= 0 re-rotates the prefix key."""
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        return None
    try:
        position = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"prefix_position must be an integer >= 0 or None, got {value!r}") from None
    if isinstance(value, bool) or position < 0 or position != float(value):
        raise ValueError(f"prefix_position must be an integer >= 0 or None, got {value!r}")
    return position


def parse_impl(value: Any) -> str:
    if value not in IMPLEMENTATIONS:
        raise ValueError(f"routing_impl must be one of {IMPLEMENTATIONS}, got {value!r}")
    return value


@dataclass(frozen=True)
class Option:
    """How an override is read (``parse``: user value → typed value, or ValueError) and where it acts:
    ``routing`` names the ``Routing`` field it replaces; otherwise ``apply`` returns the changed method."""

    parse: Callable[[Any], Any]
    help: str
    routing: str | None = None
    apply: Callable[[MethodSpec, Any], MethodSpec] | None = None


def _option(parse: Callable[[Any], Any], help: str, *, routing: str | None = None,
            apply: Callable[[MethodSpec, Any], MethodSpec] | None = None) -> Any:
    return field(default=DEFAULT, metadata={"option": Option(parse, help, routing, apply)})


def _set_pooling(spec: MethodSpec, pooling: str) -> MethodSpec:
    return replace(spec, pooling=pooling)


def _set_prompt(spec: MethodSpec, prompt: Prompt) -> MethodSpec:
    spec = replace(spec, prompt=prompt)
    if spec.token_prepending is not None and spec.token_prepending.paired_prompt:
        # an explicit prompt wins over the official entry's pairing of prompt and layers
        spec = replace(spec, token_prepending=replace(spec.token_prepending, paired_prompt=False))
    return spec


@dataclass(frozen=True)
class Overrides:
    """Settings that replace a method's own (``DEFAULT`` = keep it). Values are typed once parsed."""

    layers: LayerSpec | str = _option(
        parse_layers, "auto | none | all | 3,4,5 | 3-5 | a list | a LayerSpec mapping", routing="layers")
    bias: float | str = _option(parse_bias, "the prefix logit bias", routing="bias")
    prefix_position: int | None | str = _option(
        parse_position, "None keeps the final token's RoPE rotation; an int re-rotates the prefix key to it",
        routing="prefix_position")
    routing_impl: str = _option(parse_impl, f"re-routing implementation: {' | '.join(IMPLEMENTATIONS)}",
                                routing="impl")
    pooling: str = _option(check_pooling, "last | mean | mean_last | ...", apply=_set_pooling)
    prompt: Prompt | str = _option(
        resolve_prompt, "None (raw text) | a preset | a template with {text} | {document:, query:}",
        apply=_set_prompt)

    def __post_init__(self) -> None:
        for name, option in self.options():
            value = getattr(self, name)
            if not is_default(value):
                object.__setattr__(self, name, option.parse(value))

    @classmethod
    def options(cls) -> Iterator[tuple[str, Option]]:
        """(name, Option) of every override, in declaration order."""
        for f in fields(cls):
            yield f.name, f.metadata["option"]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(name for name, _ in cls.options())

    @classmethod
    def of(cls, base: Overrides | Mapping[str, Any] | None = None, **values: Any) -> Overrides:
        """``base`` (an Overrides or a mapping of option names) with ``values`` on top; unknown names fail."""
        merged = dict(base.set() if isinstance(base, Overrides) else (base or {}))
        merged.update(values)
        unknown = sorted(set(merged) - set(cls.names()))
        if unknown:
            raise ValueError(f"Unknown option(s) {unknown}; the overridable settings are {list(cls.names())}")
        return cls(**merged)

    def set(self) -> dict[str, Any]:
        """The options given (not ``DEFAULT``), typed."""
        return {name: getattr(self, name) for name in self.names() if not is_default(getattr(self, name))}

    def canonical(self) -> dict[str, Any]:
        """The options given, as the plain JSON values that identify them (the runner's result key and the
        ``overrides`` column of every result row): ``layers`` as its strategy plus the fields that differ from
        ``LayerSpec``'s defaults, ``prompt`` as a preset's name (else its template per role).
        ``Overrides(**o.canonical()) == o``."""
        out = {}
        for name, value in self.set().items():
            if isinstance(value, LayerSpec):
                default = LayerSpec()
                value = {"strategy": value.strategy, **{
                    f.name: list(v) if isinstance(v, tuple) else v for f in fields(LayerSpec)
                    if f.name != "strategy" and (v := getattr(value, f.name)) != getattr(default, f.name)}}
            elif isinstance(value, Prompt):
                value = next((preset for preset, p in PROMPTS.items() if p == value), None) or asdict(value)
            out[name] = value
        return out

    def acting_on(self, spec: MethodSpec) -> Overrides:
        """These overrides less those ``spec`` ignores: re-routing options on a method that does not re-route
        (with a warning), so one sweep can span methods with and without re-routing, and a result's key and
        ``overrides`` column hold only what acted."""
        given = self.set()
        ignored = [n for n, o in self.options() if o.routing and n in given] if spec.routing is None else []
        if not ignored:
            return self
        log.warning("Method %r does not re-route; ignoring %s", spec.name, ignored)
        return replace(self, **dict.fromkeys(ignored, DEFAULT))

    def apply(self, spec: MethodSpec) -> MethodSpec:
        """``spec`` with these settings (re-routing options on a method that does not re-route ignored:
        ``acting_on``)."""
        given = self.acting_on(spec).set()
        routing = {opt.routing: given[name] for name, opt in self.options() if opt.routing and name in given}
        if routing:
            spec = replace(spec, routing=replace(spec.routing, **routing))
        for name, opt in self.options():
            if opt.apply is not None and name in given:
                spec = opt.apply(spec, given[name])
        return spec


NONE = Overrides()  # no overrides: every method setting as the method states it


def configure(method: str | MethodSpec, overrides: Overrides | None = None, **values: Any) -> MethodSpec:
    """The named method with ``overrides`` (and/or option keywords) applied."""
    return Overrides.of(overrides, **values).apply(get_method(method))


__all__ = ["DEFAULT", "NONE", "Option", "Overrides", "configure", "is_default", "parse_bias", "parse_position"]
