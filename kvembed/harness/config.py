"""The runner's configuration schema: typed, and validated before any model loads.

Hydra composes ``configs/``; ``validate`` merges the result into these dataclasses (type and enum
checks by OmegaConf) and then checks the values that need kvembed's registries (method names, layer
specs, benchmark tasks), so a bad value fails with a message naming it, in a second.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ..backbones import BACKBONES, DTYPES
from ..embed_cache import MODES as CACHE_MODES
from ..forward import PADDING_SIDES
from ..layers import LayerSpec
from ..methods import METHOD_NAMES, METHODS, get_method
from ..overrides import DEFAULT, Overrides, is_default
from ..pooling import POOLINGS
from ..prompts import ROLES, validate_template
from .tracking import LOGGERS

Pooling = Enum("Pooling", {p: p for p in (DEFAULT, *POOLINGS)}, type=str)
MethodName = Enum("MethodName", {m: m for m in METHOD_NAMES}, type=str)
DType = Enum("DType", {d: d for d in DTYPES}, type=str)
PaddingSide = Enum("PaddingSide", {p: p for p in PADDING_SIDES}, type=str)


@dataclass
class BackboneConfig:
    name: str = "smollm2-135m"  # named backbone, hub id, model folder or .gguf file
    revision: Optional[str] = None
    dtype: DType = DType.auto


@dataclass
class MethodConfig:
    name: MethodName = MethodName.kvembed


def _hydra_view(spec: type) -> type:
    """A structured-config dataclass with ``spec``'s fields (tuples as lists, ``strategy`` defaulting to
    the method's own), so the config schema cannot drift from ``kvembed.layers.LayerSpec``."""
    hints = typing.get_type_hints(spec)
    out = []
    for f in dataclasses.fields(spec):
        typ, default = hints[f.name], f.default
        if f.name == "strategy":
            default = DEFAULT
        elif typing.get_origin(typ) is tuple:
            typ, default = Optional[list[typing.get_args(typ)[0]]], None
        out.append((f.name, typ, dataclasses.field(default=default)))
    return dataclasses.make_dataclass("LayersConfig", out)


LayersConfig = _hydra_view(LayerSpec)


@dataclass
class PoolingConfig:
    name: Pooling = Pooling.default


@dataclass
class BenchmarkConfig:
    name: str = "offline"
    tasks: list[str] = field(default_factory=list)
    mteb_benchmark: Optional[str] = None  # e.g. "MTEB(eng, v2)": all its tasks
    # where rows come from (eval/tasks DataLocations): hub | local (packaged STS-B, $KVEMBED_DATA's original
    # files, the proxies) | a folder (of original files, or a LoCoV1 copy in the hub's layout)
    data: str = "hub"
    limit: Optional[int] = None  # first N samples per task (smoke runs)
    split: Optional[str] = None  # evaluate this split instead of each task's own (e.g. "validation": STS-B dev)


@dataclass
class LoggerConfig:
    name: str = "wandb"  # wandb | none
    mode: str = "offline"  # offline | online | disabled
    project: str = "kvembed"
    entity: Optional[str] = None
    dir: Optional[str] = None
    tags: list[str] = field(default_factory=list)


# The method overrides of kvembed.overrides.Overrides, as Hydra sees them: the two with config groups
# (configs/layers, configs/pooling) are structured; every other one is a top-level key holding the user's
# value (DEFAULT = the method's own), parsed by Overrides. A new override needs no edit here.
GROUPS = {"layers": LayersConfig, "pooling": PoolingConfig}
OverridesConfig = dataclasses.make_dataclass("OverridesConfig", [
    (name, GROUPS[name], field(default_factory=GROUPS[name])) if name in GROUPS else (name, Any, DEFAULT)
    for name in Overrides.names()])


def register_options() -> None:
    """Options Hydra takes from the Python declarations, not from YAML mirrors of them: one ``backbone=<name>``
    per registered backbone (``kvembed.backbones.BACKBONES``), one ``method=<name>`` per registered method
    (``kvembed.methods.METHODS``), and a key for every override without a group (``config.yaml`` lists the
    node ``method_overrides`` in its defaults), so ``bias=2`` needs no ``+`` and a new override no YAML."""
    store = ConfigStore.instance()
    for name in BACKBONES:  # revision null: the lock file's pin, if any (kvembed/pins.py)
        store.store(group="backbone", name=name, node={"name": name, "revision": None, "dtype": "auto"})
    for name in METHODS:
        store.store(group="method", name=name, node={"name": name})
    store.store(name="method_overrides", node={n: DEFAULT for n in Overrides.names() if n not in GROUPS})


register_options()


@dataclass
class RunConfig(OverridesConfig):
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    experiment: str = "default"
    use_instructions: bool = False
    max_length: int = 512
    batch_size: int = 32
    device: str = "auto"
    padding_side: PaddingSide = PaddingSide.right
    results_dir: str = "results"
    force: bool = False
    workers: int = 1  # >1: data-parallel encoding, one process per GPU (or N CPU processes)
    cache: str = "off"  # embedding cache: off | read | readwrite (in $KVEMBED_CACHE/embeddings)

    @functools.cached_property
    def overrides(self) -> Overrides:
        """The method overrides that act on this job's method, typed once (every surface of a job reads this:
        the encoder, the result key, the ``overrides`` column, the fingerprints, the cost plan)."""
        return _overrides(self).acting_on(get_method(self.method.name.value))


def validate(cfg: DictConfig | dict) -> RunConfig:
    """Typed, checked configuration; ValueError names the offending key and the valid choices."""
    raw = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    raw = OmegaConf.masked_copy(raw, [k for k in raw.keys() if k not in ("hydra", "launcher")])
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), raw)
    except OmegaConfBaseException as err:
        raise ValueError(f"Invalid configuration: {err}".split("\n    full_key")[0]) from None
    run: RunConfig = OmegaConf.to_object(merged)
    # every method override is parsed and checked now, by the object that carries it to the method
    spec = run.overrides.apply(get_method(run.method.name.value))
    for role in ROLES:
        template = spec.prompt.for_role(role)
        if template is not None:
            validate_template(template)
    if run.max_length < 8:
        raise ValueError(f"max_length must be at least 8, got {run.max_length}")
    if run.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {run.batch_size}")
    if run.workers < 1:
        raise ValueError(f"workers must be >= 1, got {run.workers}")
    if run.cache not in CACHE_MODES:
        raise ValueError(f"cache must be one of {CACHE_MODES}, got {run.cache!r}")
    if run.logger.name not in LOGGERS:
        raise ValueError(f"logger must be one of {LOGGERS}, got {run.logger.name!r}")
    if not run.benchmark.tasks and not run.benchmark.mteb_benchmark:
        raise ValueError(f"benchmark {run.benchmark.name!r} lists no tasks")
    if run.benchmark.limit is not None and run.benchmark.limit < 1:
        raise ValueError(f"benchmark.limit must be >= 1 or null, got {run.benchmark.limit}")
    return run


def _overrides(run: RunConfig) -> Overrides:
    """The configuration's method overrides, typed (``layers``: every LayerSpec field the config sets)."""
    values = {}
    for name in Overrides.names():
        value = getattr(run, name)
        if name == "layers":
            value = DEFAULT if value.strategy == DEFAULT else {
                f.name: getattr(value, f.name) for f in dataclasses.fields(LayerSpec)
                if getattr(value, f.name) is not None}
        elif name == "pooling":
            value = value.name.value
        if not is_default(value):
            values[name] = value
    return Overrides(**values)
