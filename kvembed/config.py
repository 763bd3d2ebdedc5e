"""The runner's configuration schema: typed, and validated before any model loads.

Hydra composes ``configs/``; ``validate`` merges the result into these dataclasses (type and enum
checks by OmegaConf) and then checks the values that need kvembed's registries (method names, layer
specs, benchmark tasks), so a bad value fails with a message naming it, in a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .layers import LayerSpec, parse_layers
from .methods import METHOD_NAMES
from .pooling import POOLINGS

Pooling = Enum("Pooling", {p: p for p in ("default", *POOLINGS)}, type=str)
MethodName = Enum("MethodName", {m: m for m in METHOD_NAMES}, type=str)


class DType(str, Enum):
    auto = "auto"
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class PaddingSide(str, Enum):
    right = "right"
    left = "left"


@dataclass
class BackboneConfig:
    name: str = "smollm2-135m"  # named backbone, hub id, model folder or .gguf file
    revision: Optional[str] = None
    dtype: DType = DType.auto


@dataclass
class MethodConfig:
    name: MethodName = MethodName.kvembed


_L = LayerSpec()


@dataclass
class LayersConfig:
    """Hydra's view of ``kvembed.layers.LayerSpec`` (same fields and defaults; lists instead of tuples)."""

    strategy: str = "default"  # default = the method's own; else one of kvembed.layers.STRATEGIES
    layers: Optional[list[int]] = None
    start: Optional[float] = None
    stop: Optional[float] = None
    representation: str = _L.representation
    estimator: str = _L.estimator
    window: str = _L.window
    width: float = _L.width
    skip_first: float = _L.skip_first
    skip_last: float = _L.skip_last
    n_samples: int = _L.n_samples


@dataclass
class PoolingConfig:
    name: Pooling = Pooling.default


@dataclass
class BenchmarkConfig:
    name: str = "offline"
    tasks: list[str] = field(default_factory=list)
    mteb_benchmark: Optional[str] = None  # e.g. "MTEB(eng, v2)": all its tasks
    offline_data: bool = False  # feed STSBenchmark from the packaged files
    limit: Optional[int] = None  # first N samples per task (smoke runs)
    data_dir: Optional[str] = None  # LoCoV1: a local copy in the hub layout instead of the hub


@dataclass
class LoggerConfig:
    name: str = "wandb"  # wandb | none
    mode: str = "offline"  # offline | online | disabled
    project: str = "kvembed"
    entity: Optional[str] = None
    dir: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@dataclass
class RunConfig:
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    layers: LayersConfig = field(default_factory=LayersConfig)
    pooling: PoolingConfig = field(default_factory=PoolingConfig)
    benchmark: BenchmarkConfig = field(default_factory=BenchmarkConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    experiment: str = "default"
    bias: Optional[float] = None  # None = the method's default (1.0 for kvembed)
    prefix_position: Optional[int] = None
    routing_impl: Optional[str] = None
    prompt: Any = "default"  # "default" | None (raw text) | a template | {document:, query:}
    use_instructions: bool = False
    max_length: int = 512
    batch_size: int = 32
    device: str = "auto"
    padding_side: PaddingSide = PaddingSide.right
    results_dir: str = "results"
    force: bool = False
    workers: int = 1  # >1: data-parallel encoding, one process per GPU (or N CPU processes)
    cache: str = "off"  # embedding cache: off | read | readwrite (in $KVEMBED_CACHE/embeddings)


def validate(cfg: DictConfig | dict) -> RunConfig:
    """Typed, checked configuration; ValueError names the offending key and the valid choices."""
    raw = cfg if isinstance(cfg, DictConfig) else OmegaConf.create(cfg)
    raw = OmegaConf.masked_copy(raw, [k for k in raw.keys() if k not in ("hydra", "launcher")])
    try:
        merged = OmegaConf.merge(OmegaConf.structured(RunConfig), raw)
    except OmegaConfBaseException as err:
        raise ValueError(f"Invalid configuration: {err}".split("\n    full_key")[0]) from None
    run: RunConfig = OmegaConf.to_object(merged)
    if run.layers.strategy != "default":
        parse_layers(layer_options(run))  # raises ValueError with the choices
    if run.max_length < 8:
        raise ValueError(f"max_length must be at least 8, got {run.max_length}")
    if run.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {run.batch_size}")
    if run.routing_impl not in (None, "flat", "masked"):
        raise ValueError(f"routing_impl must be flat or masked, got {run.routing_impl!r}")
    if run.workers < 1:
        raise ValueError(f"workers must be >= 1, got {run.workers}")
    if run.cache not in ("off", "read", "readwrite"):
        raise ValueError(f"cache must be off, read or readwrite, got {run.cache!r}")
    if run.logger.name not in ("wandb", "none"):
        raise ValueError(f"logger must be wandb or none, got {run.logger.name!r}")
    if not run.benchmark.tasks and not run.benchmark.mteb_benchmark:
        raise ValueError(f"benchmark {run.benchmark.name!r} lists no tasks")
    if run.benchmark.limit is not None and run.benchmark.limit < 1:
        raise ValueError(f"benchmark.limit must be >= 1 or null, got {run.benchmark.limit}")
    return run


def layer_options(run: RunConfig) -> Any:
    """The ``layers=`` argument for Encoder (the _DEFAULT sentinel is handled by the caller)."""
    lc = run.layers
    d = {k: getattr(lc, k) for k in ("strategy", "layers", "start", "stop", "representation", "estimator",
                                      "window", "width", "skip_first", "skip_last", "n_samples")}
    return {k: v for k, v in d.items() if v is not None}
