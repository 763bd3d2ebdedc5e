"""What a method is: data (a prompt and how it is tokenised, a pooling, optional re-routing, Token
Prepending or Contrastive Prompting settings).

The mechanisms live elsewhere (``attention``, ``forward``, ``pooling``, ``prompts``); a method only
says which of them to use and how, so a new method or ablation is a few lines of data.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..layers import LayerSpec
from ..pooling import check_pooling
from ..prompts import PREPROCESSORS, ROLES, TOKENIZATIONS, Prompt

DEFAULT = "default"  # the one sentinel for "the method's own setting", wherever an override may be given
ROUTING_MODES = ("single", "two_pass", "bidirectional")
IMPLEMENTATIONS = ("flat", "masked")
# How Token Prepending / Contrastive Prompting are set on a backbone their official code has no entry for:
# ``authors``: the output layer the authors read on every model but Llama-2-7B (hidden_states[-2]) and
# Llama-2-7B's intervention layers scaled to the depth; ``depth_scaled``: Llama-2-7B's whole entry scaled to
# the depth (output layer too); ``script_default`` (TP only): the official script run without a config, on
# any backbone. Backbones with an official entry (or its nearest family) get it under the first two rules.
BASELINE_RULES = ("authors", "depth_scaled", "script_default")


@dataclass(frozen=True)
class Routing:
    """KV re-routing options.

    mode: ``single`` (the paper: same-pass last-token K/V as a prefix), ``two_pass`` (ablation: the
    prefix comes from a first plain pass), ``bidirectional`` (ablation: selected layers drop causality,
    keeping padding and any sliding window, made symmetric). prefix_position: None keeps the final
    token's own RoPE rotation; an int re-rotates the prefix key to that RoPE position (ablation).
    """

    # ``column``: the result column each one is recorded as (``Recipe.columns``); the layers are recorded as
    # the recipe resolved them. The Recipe and the attention read this object itself: no copies.
    mode: str = field(default="single", metadata={"column": "routing_mode"})
    layers: LayerSpec = field(default=LayerSpec(), metadata={"column": None})  # resolved by ``recipe.resolve``
    bias: float = field(default=1.0, metadata={"column": "bias"})
    prefix_position: int | None = field(default=None, metadata={"column": "prefix_position"})
    impl: str = field(default="flat", metadata={"column": "routing_impl"})

    def __post_init__(self) -> None:
        if self.mode not in ROUTING_MODES:
            raise ValueError(f"Unknown routing mode {self.mode!r}; choose one of {ROUTING_MODES}")
        if self.impl not in IMPLEMENTATIONS:
            raise ValueError(f"routing_impl must be one of {IMPLEMENTATIONS}, got {self.impl!r}")
        # typed once, where a user's value is parsed (kvembed.overrides); here only checked
        if not isinstance(self.layers, LayerSpec):
            raise TypeError(f"Routing.layers must be a LayerSpec (kvembed.layers.parse_layers), got {self.layers!r}")
        if isinstance(self.bias, bool) or not isinstance(self.bias, (int, float)):
            raise TypeError(f"Routing.bias must be a number, got {self.bias!r}")
        object.__setattr__(self, "bias", float(self.bias))  # one type in the recorded column
        if self.prefix_position is not None and (not isinstance(self.prefix_position, int) or self.prefix_position < 0):
            raise ValueError(f"prefix_position must be an integer >= 0 or None, got {self.prefix_position!r}")


class InterventionPlan(Protocol):
    """A hook-style method set for one backbone (frozen: it is part of the Recipe)."""

    source: str  # where its per-backbone settings come from (an official file, or 'inferred: ...')

    def hooks(self, model: Any, batch: Any) -> AbstractContextManager:
        """Hooks on ``model`` for one forward pass of ``batch`` (a ``kvembed.forward.Batch``); ``kvembed.hooks``
        finds the decoder blocks and removes hooks on exit."""
        ...

    def describe(self) -> dict[str, Any]:
        """Its settings as plain values (the ``intervention`` column)."""
        ...


class Intervention(Protocol):
    """A hook-style baseline's mechanism (``MethodSpec.intervention``): ``resolve`` sets it for one backbone,
    and the plan puts hooks on the model around each forward pass, so a new one is a module of ``methods/``
    and its registration, nothing else. (Token Prepending and Contrastive Prompting, which also change the
    inputs, keep their own fields.)"""

    def resolve(self, backbone: Any) -> InterventionPlan:
        """The plan for ``backbone`` (a ``kvembed.recipe.BackboneFacts``: name, source, depth)."""
        ...


@dataclass(frozen=True)
class LayerSetting:
    """Per-backbone settings of a baseline, with where they come from (a file of its official code, or
    'inferred: ...' when the official code has no entry for this backbone)."""

    values: dict[str, Any]
    source: str


def _scaled(reference: dict[str, int], ref_layers: int, num_layers: int) -> dict[str, int]:
    """A 32-layer setting moved to another depth (same fraction of the depth, rounded half up)."""
    return {k: int(v * num_layers / ref_layers + 0.5) for k, v in reference.items()}


def backbone_key(source: str, name: str) -> str:
    return f"{name} {source}".lower()


@dataclass(frozen=True)
class TokenPrepending:
    """Token Prepending (Fu et al. 2025): before each layer in [start, stop) the ``<PST>`` placeholder's
    state is replaced by the last token's state entering that layer; the embedding is the last token's
    state at ``output_layer`` (an index into transformers' ``hidden_states``: k = output of k layers,
    -1 = the final normed state). ``None`` = the per-backbone setting of the official code
    (``settings``). The placeholder's input embedding is a seeded N(0, 1) row, as the official code's
    ``torch.randn`` row for the added token.

    ``paired_prompt``: the prompt is the one the official entry was tuned with (its ``prompt_method``),
    so layers and prompt are a pairing the authors ran; False = the method's own prompt with those layers.
    ``rule``: how a backbone without an official entry is set (``BASELINE_RULES``)."""

    start: int | None = None
    stop: int | None = None
    output_layer: int | None = None
    seed: int = 3407
    paired_prompt: bool = False
    rule: str = "authors"

    # fuyuchenIfyw/token_prepending, config.yaml: (tp_starting_index, tp_exiting_index, output_layer,
    # prompt_method; its `cot` is PretCoT)
    OFFICIAL = {
        "llama-3": ({"start": 1, "stop": 3, "output_layer": -2, "prompt": "pretcot"}, "config.yaml `llama-3-8b-tp`"),
        "qwen": ({"start": 1, "stop": 6, "output_layer": -2, "prompt": "pretcot"}, "config.yaml `qwen2-7b-tp`"),
        "gemma": ({"start": 1, "stop": 6, "output_layer": -2, "prompt": "pretcot"}, "config.yaml `gemma2-9b-tp`"),
        "llama-2": ({"start": 1, "stop": 7, "output_layer": 27, "prompt": "prompteol"},
                    "config.yaml `llama-2-7b-tp`"),
    }

    # evaluate.py's argparse defaults, what the script runs without --config: --prompt_method prompteol,
    # --tp_starting_index 1, --tp_exiting_index 99 (every later layer), --output_layer -1
    SCRIPT_DEFAULT = ({"start": 1, "stop": 99, "output_layer": -1, "prompt": "prompteol"},
                      "evaluate.py argparse defaults (no --config)")

    def settings(self, source: str, name: str, num_layers: int) -> LayerSetting:
        """Layers for this backbone: explicit fields win, then the official table (or its nearest family,
        marked inferred), then ``rule`` for a backbone the table does not name (marked inferred)."""
        values, src = _lookup(self, self.OFFICIAL, "fuyuchenIfyw/token_prepending", source, name, num_layers,
                              ("start", "stop", "output_layer"), scale=("stop", "output_layer"),
                              script_default=self.SCRIPT_DEFAULT)
        if self.stop is None:  # a depth-scaled stop can round down onto start: keep at least one layer
            values["stop"] = max(values["stop"], values["start"] + 1)
        if not 1 <= values["start"] < values["stop"] <= num_layers:
            raise ValueError(f"Token prepending layers [{values['start']}, {values['stop']}) must satisfy "
                             f"1 <= start < stop <= {num_layers}")
        check_output_layer(values["output_layer"], num_layers)
        return LayerSetting(values, src)


@dataclass(frozen=True)
class ContrastivePrompting:
    """Contrastive Prompting (Cheng et al., ACL 2025), the official run's ``scaled`` intervention on the
    attention heads' output: at ``layer`` the last token's input to ``o_proj`` becomes
    ``coeff * (A - B)``, where B is the same activation under the contrast prompt. The embedding is the
    last token's state at ``output_layer``. ``None`` = the per-backbone setting of the official code;
    ``rule``: how a backbone without an official entry is set (``BASELINE_RULES``)."""

    negative: str = 'The irrelevant information of this sentence : "{text}" means in one word:"'
    layer: int | None = None
    coeff: float | None = None
    output_layer: int | None = None
    rule: str = "authors"

    # zifengcheng/CP, run_intervention_eval.sh: (act_layer, coeff, output_layer)
    OFFICIAL = {
        "llama-3": ({"layer": 6, "coeff": 0.25, "output_layer": -2}, "run_intervention_eval.sh, Meta-Llama-3-8B"),
        "llama-2": ({"layer": 4, "coeff": 0.5, "output_layer": 27}, "run_intervention_eval.sh, Llama-2-7b-hf"),
    }

    def settings(self, source: str, name: str, num_layers: int) -> LayerSetting:
        """As ``TokenPrepending.settings``, from the official run script."""
        values, src = _lookup(self, self.OFFICIAL, "zifengcheng/CP", source, name, num_layers,
                              ("layer", "coeff", "output_layer"), scale=("layer", "output_layer"))
        if not 0 <= values["layer"] < num_layers:
            raise ValueError(f"Contrastive Prompting layer {values['layer']} is outside 0..{num_layers - 1}")
        check_output_layer(values["output_layer"], num_layers)
        return LayerSetting(values, src)


# Backbones the official tables do not name, mapped to the nearest family they do name (an inference).
NEAREST_FAMILY = {"llama-3.1": "llama-3", "qwen3": "qwen", "qwen2.5": "qwen", "gemma-3": "gemma", "gemma3": "gemma"}


def _lookup(obj: Any, official: dict, repo: str, source: str, name: str, num_layers: int,
            fields: tuple[str, ...], scale: tuple[str, ...],
            script_default: tuple[dict[str, Any], str] | None = None) -> tuple[dict[str, Any], str]:
    if obj.rule not in BASELINE_RULES:
        raise ValueError(f"Unknown baseline rule {obj.rule!r}; choose one of {BASELINE_RULES}")
    key = backbone_key(source, name)
    values, src = None, ""
    if obj.rule == "script_default":
        if script_default is None:
            raise ValueError(f"rule 'script_default' is Token Prepending's ({repo} has no such default)")
        values, where = dict(script_default[0]), script_default[1]
        values["stop"] = min(values["stop"], num_layers)  # the official loop runs while i < 99: every layer
        src = f"{repo} {where}"
    for family, (vals, where) in official.items():
        if values is None and family in key:
            values, src = dict(vals), f"{repo} {where}"
            near = [f for f, fam in NEAREST_FAMILY.items() if f in key and fam == family]
            if near:
                src = f"inferred: nearest family ({family}) in {src}"
    if values is None:
        ref, where = official["llama-2"]
        values = dict(ref)
        values.update(_scaled({k: ref[k] for k in scale}, 32, num_layers))
        src = f"inferred: {repo} {where} scaled from 32 to {num_layers} layers"
        if obj.rule == "authors":  # every official entry but Llama-2-7B's reads the penultimate layer
            values["output_layer"] = -2
            src = (f"inferred: output hidden_states[-2] as in every {repo} entry but Llama-2-7B's; "
                   f"intervention layers of {where} scaled from 32 to {num_layers} layers")
    explicit = {k: getattr(obj, k) for k in fields if getattr(obj, k) is not None}
    if explicit:
        src = "explicit configuration" + ("" if len(explicit) == len(fields) else f"; rest from {src}")
    return {**values, **explicit}, src


def check_output_layer(index: int, num_layers: int) -> int:
    """An index into transformers' ``hidden_states`` (num_layers + 1 entries), or a clear error."""
    if not -(num_layers + 1) <= int(index) <= num_layers:
        raise ValueError(f"output_layer {index} is outside hidden_states (indices {-(num_layers + 1)}..{num_layers})")
    return int(index)


@dataclass(frozen=True)
class MethodSpec:
    """A named embedding method.

    summary: one line saying what the method is and where its recipe comes from;
    tokenization: ``whole`` (the prompt string tokenised once) or ``pieces`` (Echo's parser);
    preprocess: the text clean-up of the method's reference batcher (``prompteol``), or None;
    symmetric_role: the template used on both sides of a symmetric task (STS, clustering, ...);
    output_layer: where the embedding is read: None = the final normed state, k = transformers'
    ``hidden_states[k]`` (e.g. -2: the output of L-1 layers, before the final norm); Token Prepending and
    Contrastive Prompting read theirs from their per-backbone settings instead;
    intervention: a hook-style mechanism set per backbone (``Intervention``), or None;
    instructed_prompt: the templates used when a task instruction is given, with an ``{instruction}`` slot
    (Echo's ``Instruct:`` piece, seen but not pooled); None = the instruction is put before the text;
    instruction_format: how an instruction fills that slot;
    mean_with_specials: whether ``mean`` pooling counts the tokenizer's leading special tokens (BOS). They
    are left out by default, as in echo-embeddings' pooled span: a BOS attention-sink state can dominate
    the average.
    """

    name: str
    prompt: Prompt
    pooling: str
    summary: str  # one line: what it is and whose recipe (the config catalogue and Hydra's method group show it)
    routing: Routing | None = None
    token_prepending: TokenPrepending | None = None
    contrastive: ContrastivePrompting | None = None
    intervention: Intervention | None = None
    tokenization: str = "whole"
    preprocess: str | None = None
    symmetric_role: str = "document"
    output_layer: int | None = None
    instructed_prompt: Prompt | None = None
    instruction_format: str = "{instruction}"
    mean_with_specials: bool = False

    def __post_init__(self) -> None:
        check_pooling(self.pooling)
        if self.tokenization not in TOKENIZATIONS:
            raise ValueError(f"Unknown tokenization {self.tokenization!r}; choose one of {TOKENIZATIONS}")
        if self.preprocess is not None and self.preprocess not in PREPROCESSORS:
            raise ValueError(f"Unknown preprocess {self.preprocess!r}; choose one of {sorted(PREPROCESSORS)}")
        if self.symmetric_role not in ROLES:
            raise ValueError(f"Unknown symmetric_role {self.symmetric_role!r}; choose one of {ROLES}")
        if self.output_layer is not None and (self.token_prepending or self.contrastive):
            raise ValueError(f"Method {self.name!r}: Token Prepending / Contrastive Prompting read their output "
                             "layer from their per-backbone settings; leave output_layer unset")
