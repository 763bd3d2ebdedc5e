"""Which decoder layers re-route (docs/method.md §4).

Strategies: ``none``, ``all``, ``explicit`` (a list), ``range`` ([start, stop) layer indices),
``fraction`` ([start, stop) as fractions of depth) and ``auto``: the TwoNN intrinsic dimension of the
hidden states entering each layer, over sample texts wrapped in the method's prompt; a window of
⌊width·L⌋ layers is placed at the minimum, after skipping the first ``skip_first`` of the depth.
``ID[ℓ]`` is measured on the input of decoder layer ℓ, because that is what forms ℓ's keys and values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .data.stsb import id_sample
from .paths import atomic_write_bytes, cache_dir, stable_hash
from .provenance import code_version
from .twonn import ESTIMATORS, intrinsic_dimension

log = logging.getLogger(__name__)

STRATEGIES = ("none", "all", "explicit", "range", "fraction", "auto")
REPRESENTATIONS = ("last", "mean")
WINDOW_RULES = ("start", "centre", "end")


@dataclass(frozen=True)
class LayerSpec:
    """A layer-selection strategy and its parameters (the ``auto`` ones are ignored by the others)."""

    strategy: str = "auto"
    layers: tuple[int, ...] = ()
    start: float | None = None
    stop: float | None = None
    representation: str = "last"
    estimator: str = "mle"
    window: str = "start"
    width: float = 0.1
    skip_first: float = 0.2
    skip_last: float = 0.0
    n_samples: int = 1000
    sample_set: str = "stsb-train"

    def __post_init__(self) -> None:
        checks = [("strategy", STRATEGIES), ("representation", REPRESENTATIONS),
                  ("estimator", ESTIMATORS), ("window", WINDOW_RULES)]
        for name, choices in checks:
            if getattr(self, name) not in choices:
                raise ValueError(f"Unknown layer {name} {getattr(self, name)!r}; choose one of {choices}")
        if not 0 < self.width <= 1:
            raise ValueError(f"layer window width must be a fraction in (0, 1], got {self.width}")
        if not (0 <= self.skip_first < 1 and 0 <= self.skip_last < 1 and self.skip_first + self.skip_last < 1):
            raise ValueError("skip_first and skip_last must be fractions in [0, 1) summing to less than 1")
        if self.n_samples < 3:
            raise ValueError(f"n_samples must be at least 3, got {self.n_samples}")
        if self.strategy == "fraction" and (self.start is None or self.stop is None):
            raise ValueError("layer strategy 'fraction' needs start and stop")
        if self.strategy == "range" and self.start is None:
            raise ValueError("layer strategy 'range' needs start (stop defaults to start + floor(width*L))")

    def describe(self) -> str:
        if self.strategy == "explicit":
            return "explicit:" + ",".join(map(str, self.layers))
        if self.strategy in ("range", "fraction"):
            return f"{self.strategy}:{self.start}-{self.stop}"
        return self.strategy


@dataclass(frozen=True)
class LayerChoice:
    """The resolved layers, with the ID curve that chose them when ``auto``."""

    layers: tuple[int, ...]
    spec: LayerSpec
    id_curve: tuple[float, ...] | None = None


def parse_layers(value: Any) -> LayerSpec:
    """Accept ``"auto"``, ``"none"``/None, ``"all"``, an int, a list of ints, ``"a-b"``, a dict or a LayerSpec."""
    if isinstance(value, LayerSpec):
        return value
    if value is None or value == "none":
        return LayerSpec("none")
    if isinstance(value, str):
        if value in ("auto", "all"):
            return LayerSpec(value)
        if "-" in value and all(p.strip().isdigit() for p in value.split("-", 1)):
            a, b = (int(p) for p in value.split("-", 1))
            return LayerSpec("range", start=a, stop=b + 1)
        if all(p.strip().lstrip("-").isdigit() for p in value.split(",")):
            return LayerSpec("explicit", layers=tuple(int(p) for p in value.split(",")))
        raise ValueError(f"Cannot read layers={value!r}: use 'auto', 'none', 'all', '3,4,5', '3-5', a list "
                         f"of ints or a dict with a 'strategy' among {STRATEGIES}")
    if isinstance(value, (bool,)):
        raise ValueError(f"layers={value!r} is not a layer selection")
    if isinstance(value, int):
        return LayerSpec("explicit", layers=(value,))
    if isinstance(value, dict) or hasattr(value, "items"):
        data = dict(value.items())
        known = {f.name for f in fields(LayerSpec)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown layer option(s) {sorted(unknown)}; known: {sorted(known)}")
        if "layers" in data and data["layers"] is not None:
            data["layers"] = tuple(int(x) for x in data["layers"])
        return LayerSpec(**{k: v for k, v in data.items() if v is not None or k in ("start", "stop")})
    if isinstance(value, Sequence) and all(isinstance(x, (int, np.integer)) and not isinstance(x, bool)
                                           for x in value):
        return LayerSpec("explicit", layers=tuple(int(x) for x in value))
    raise ValueError(f"Cannot read layers={value!r}")


def _check_range(layers: Sequence[int], num_layers: int) -> tuple[int, ...]:
    bad = [x for x in layers if not 0 <= x < num_layers]
    if bad:
        raise ValueError(f"Layer(s) {bad} out of range: this backbone has {num_layers} layers, "
                         f"valid indices are 0..{num_layers - 1}")
    return tuple(sorted(set(int(x) for x in layers)))


def resolve_static(spec: LayerSpec, num_layers: int) -> tuple[int, ...]:
    """Resolve every strategy except ``auto``."""
    if spec.strategy == "none":
        return ()
    if spec.strategy == "all":
        return tuple(range(num_layers))
    if spec.strategy == "explicit":
        return _check_range(spec.layers, num_layers)
    if spec.strategy == "range":
        stop = spec.stop if spec.stop is not None else int(spec.start) + max(1, int(np.floor(spec.width * num_layers)))
        return _check_range(range(int(spec.start), int(stop)), num_layers)
    if spec.strategy == "fraction":
        if not 0 <= spec.start < spec.stop <= 1:
            raise ValueError(f"fraction layers need 0 <= start < stop <= 1, got {spec.start}, {spec.stop}")
        a = int(np.floor(spec.start * num_layers))
        b = max(a + 1, int(np.floor(spec.stop * num_layers)))
        return _check_range(range(a, b), num_layers)
    raise ValueError(f"Strategy {spec.strategy!r} needs a model (use Encoder) to resolve")


def window_at_minimum(id_curve: Sequence[float], spec: LayerSpec) -> tuple[int, ...]:
    """Place a window of ⌊width·L⌋ layers (at least one) at the ID minimum, per the window rule."""
    L = len(id_curve)
    lo = int(np.floor(spec.skip_first * L))
    hi = L - int(np.floor(spec.skip_last * L))
    curve = np.asarray(id_curve, dtype=float)[lo:hi]
    if not np.isfinite(curve).any():
        raise ValueError("The intrinsic dimension is undefined on every candidate layer")
    m = lo + int(np.nanargmin(np.where(np.isfinite(curve), curve, np.nan)))
    w = max(1, int(np.floor(spec.width * L)))
    start = {"start": m, "centre": m - w // 2, "end": m - w + 1}[spec.window]
    start = min(max(start, 0), L - w)
    return tuple(range(start, start + w))


def id_curve(states: np.ndarray, estimator: str = "mle") -> tuple[float, ...]:
    """TwoNN ID of each layer's point cloud; ``states`` is (L, N, H). Undefined layers give NaN."""
    out = []
    for layer_states in states:
        try:
            out.append(intrinsic_dimension(layer_states, estimator))
        except ValueError:  # fewer than 3 distinct points, e.g. identical last-token embeddings
            out.append(float("nan"))
    return tuple(out)


def select_auto(spec: LayerSpec, num_layers: int, states_fn: Callable[[str], np.ndarray],
                cache_parts: dict[str, Any]) -> LayerChoice:
    """Run (or load from the on-disk cache) the ID curve and place the window.

    ``states_fn(representation)`` returns the (L, N, H) states entering each layer over the sample.
    The cache is keyed by the backbone, its revision, the sample set, the prompt and the ID options;
    the window rule is applied on load, so changing it does not recompute the curve.
    """
    # the code is part of the key: a fix to the estimator never serves a curve the old code measured
    key_parts = dict(cache_parts, representation=spec.representation, estimator=spec.estimator,
                     n_samples=spec.n_samples, sample_set=spec.sample_set, num_layers=num_layers,
                     code=code_version("embeddings"))
    path = cache_dir("layers") / f"{stable_hash(key_parts)}.json"
    curve = None
    if path.exists():
        try:
            curve = tuple(float(x) for x in json.loads(path.read_text())["id_curve"])
        except (ValueError, KeyError):
            curve = None
    if curve is None or len(curve) != num_layers:
        log.info("Estimating the intrinsic dimension of %d layers (TwoNN, %s)", num_layers, spec.estimator)
        curve = id_curve(states_fn(spec.representation), spec.estimator)
        payload = {"key": key_parts, "id_curve": list(curve)}
        atomic_write_bytes(path, json.dumps(payload, indent=1, default=str).encode())
    return LayerChoice(window_at_minimum(curve, spec), spec, curve)


def measure_auto(spec: LayerSpec, num_layers: int, layer_states: Callable[[list[str], str], Any],
                 cache_parts: dict[str, Any]) -> LayerChoice:
    """``layers=auto`` on a model: ``layer_states(texts, representation)`` over the spec's ID sample, then
    ``select_auto`` (cached on disk by ``cache_parts`` and the ID options)."""
    if spec.sample_set != "stsb-train":
        raise ValueError(f"Unknown ID sample set {spec.sample_set!r}; available: ['stsb-train']")
    sample = id_sample(spec.n_samples)
    return select_auto(spec, num_layers, lambda rep: layer_states(sample, rep), cache_parts)


__all__ = ["LayerSpec", "LayerChoice", "parse_layers", "resolve_static", "select_auto", "measure_auto",
           "window_at_minimum", "id_curve", "STRATEGIES"]
