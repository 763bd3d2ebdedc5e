"""What the code computes, as a hash: the identity of a result row.

A row stays current exactly as long as the code would still produce its numbers. Hashing the source text
cannot say that (a docstring moves it); running the code can. The fingerprint of a row is the hash of

* **embeddings**: its configuration (method + overrides) run on a tiny random model of every supported
  architecture, over a fixed probe set that takes the paths real data takes (texts cut inside the text,
  batches of mixed lengths, both padding sides, query and document roles, the method's instruction slot when
  the row's job gave task instructions (``use_instructions``), the ID-based layer choice on a small sample);
* **evaluation**: a tiny task of the row's task type through the mteb adapter, mteb's evaluator, the score
  rows, the per-item scores and the STS geometry, with a deterministic stand-in encoder (so a change to one
  method's code never touches another method's rows through this part), for the symmetric roles of both
  method kinds, with task instructions as the row's job gave them (on or off);
* the torch, transformers and mteb versions.

Outputs are hashed at ``DECIMALS`` decimals. The probe runs on the CPU in float32 with one thread, so a
machine of one kind computes it bit for bit; a refactor whose outputs are bit-identical keeps every
fingerprint. What the probe cannot see is listed in docs/development.md ("Result identity").

This file is the measuring instrument, not the code it measures: ``scripts/migrate_fingerprints.py`` runs
it unchanged inside a checkout of an older commit (its relative imports then resolve to that commit's
code), so it keeps to the API every recorded commit has. That is why the probe functions import what they
measure inside themselves: at module level only what every commit has, and a report that finds every
fingerprint in the cache never loads the models' stack.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import atomic_write_bytes, cache_dir, stable_hash
from ..provenance import PACKAGE
from .results import package_versions

log = logging.getLogger(__name__)

FINGERPRINT_VERSION = 1  # bump when the probe itself changes: every fingerprint changes with it
DECIMALS = 6
VERSIONED = ("torch", "transformers", "mteb")
PROBE_ARCHS = ("llama", "mistral", "qwen3", "qwen2", "gemma3")
PROBE_MAX_LENGTH = 192  # room for the longest prompt (KE), below the longest probe text (cut inside the text)
PROBE_BATCH = 3  # batches of mixed lengths
PROBE_ID_SAMPLES = 24  # layers=auto runs its ID estimate on this many sample texts instead of 1,000
PROBE_INSTRUCTION = "Retrieve a sentence that means the same."
PROBE_TEXTS = (
    "A girl is styling her hair.",
    "A cat.",
    "Hi",
    " ".join(["Stocks fell sharply on Monday after the central bank raised interest rates again, and analysts said "
              "the slide could continue for weeks as investors weigh how far borrowing costs will climb."] * 6),
    "One woman is measuring another woman's ankle.",
    "Ünïcödé text — with “quotes”, emoji 🙂 and tabs\tinside.",
    "A group of men play soccer on the beach while the sun sets behind them.",
)
# A tiny task of each type, from the packaged STS-B files (the proxies stand for their type's evaluator)
EVAL_TASKS = {
    "STS": "STSBenchmark",
    "Retrieval": "STSBRetrieval.proxy",
    "Classification": "STSBGenreClassification.proxy",
    "Clustering": "STSBSourceClustering.proxy",
    "PairClassification": "STSBPairClassification.proxy",
    "Reranking": "STSBReranking.proxy",
    "Summarization": "STSBSummarization.proxy",
}
EVAL_LIMIT = 16
EVAL_METHOD_KINDS = ("mean", "echo")  # a document-side and a query-side symmetric role; no instruction slot / one


def _quantised(value: Any) -> Any:
    """Numbers at ``DECIMALS`` decimals (NaN and -0.0 normalised; arrays as the hash of their bytes), nested
    lists and tuples element by element, anything else as it is."""
    if isinstance(value, (np.ndarray, np.floating, float)) and not isinstance(value, bool):
        q = np.round(np.asarray(value, dtype=np.float64), DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
        q = np.where(np.isnan(q), np.inf, q)
        return [list(q.shape), stable_hash(q.tobytes().hex(), 32)]
    if isinstance(value, (list, tuple)):
        return [_quantised(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value


def _digest(outputs: Sequence[Any]) -> str:
    return stable_hash(_quantised(list(outputs)), 16)


def versions() -> dict[str, str | None]:
    """The versions a fingerprint includes, as every row records them (``results.package_versions``)."""
    recorded = json.loads(package_versions())
    return {name: recorded.get(name) for name in VERSIONED}


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """One torch thread (the same bits whatever the caller's threading) and a private cache folder, so the
    layer choice is computed by the code under probe, never read from an earlier run's cache."""
    import datasets
    import torch
    from transformers.utils import logging as hf_logging

    threads = torch.get_num_threads()
    saved = os.environ.get("KVEMBED_CACHE")
    # the probe's dozens of tiny loads and tasks would fill a report's output with progress bars
    bars = hf_logging.is_progress_bar_enabled(), datasets.is_progress_bar_enabled()
    with tempfile.TemporaryDirectory(prefix="kvembed-probe-") as tmp:
        torch.set_num_threads(1)
        os.environ["KVEMBED_CACHE"] = tmp
        hf_logging.disable_progress_bar()
        datasets.disable_progress_bars()
        try:
            with torch.no_grad():
                yield
        finally:
            if bars[0]:
                hf_logging.enable_progress_bar()
            if bars[1]:
                datasets.enable_progress_bars()
            torch.set_num_threads(threads)
            if saved is None:
                os.environ.pop("KVEMBED_CACHE", None)
            else:
                os.environ["KVEMBED_CACHE"] = saved


def probe_models() -> dict[str, str]:
    """The tiny model folder of each probe architecture (built once, cached)."""
    from ..tiny import tiny_model_dir

    return {arch: str(tiny_model_dir(arch)) for arch in PROBE_ARCHS}


def probe_overrides(method: str, overrides: Mapping[str, Any], num_layers: int) -> dict[str, Any]:
    """A row's overrides as they apply to a tiny model: layer indices taken modulo its depth (the same code
    path, at a depth the model has) and the ID estimate of ``layers=auto`` on ``PROBE_ID_SAMPLES`` texts."""
    from ..layers import parse_layers
    from ..methods import get_method

    out = dict(overrides)
    layers = out.get("layers")
    if layers is None:
        routing = get_method(method).routing
        spec = parse_layers(routing.layers) if routing is not None else None  # a string at older commits
        if spec is None or spec.strategy != "auto":
            return out
        layers = asdict(spec)
    layers = dict(layers)
    if layers.get("strategy") == "auto":
        layers["n_samples"] = PROBE_ID_SAMPLES
    if layers.get("strategy") == "explicit":
        layers["layers"] = sorted({int(i) % num_layers for i in layers.get("layers", ())})
    if layers.get("strategy") == "range":
        start = int(layers["start"]) % num_layers
        span = None if layers.get("stop") is None else max(1, int(layers["stop"]) - int(layers["start"]))
        layers["start"] = start
        layers["stop"] = None if span is None else min(num_layers, start + span)
    out["layers"] = layers
    return out


def _encoder_outputs(encoder: Any, instructions: bool) -> list[Any]:
    curve = encoder.describe().get("id_curve")  # the layer choice's measurement, not only its outcome
    outputs: list[Any] = [list(encoder.layers), np.asarray(curve if curve is not None else [], dtype=np.float64)]
    for side in ("right", "left"):
        encoder.padding_side = side
        outputs.append(encoder.encode(list(PROBE_TEXTS), prompt_type="document", batch_size=PROBE_BATCH))
        outputs.append(encoder.encode(list(PROBE_TEXTS), prompt_type="query", batch_size=PROBE_BATCH))
        if instructions and getattr(encoder.method, "instructed_prompt", None) is not None:  # its instruction slot
            outputs.append(encoder.encode(list(PROBE_TEXTS), prompt_type="query", batch_size=PROBE_BATCH,
                                          instruction=PROBE_INSTRUCTION))
    return outputs


def embeddings_fingerprint(method: str, overrides: Mapping[str, Any], models: Mapping[str, str] | None = None,
                           instructions: bool = False) -> str:
    """Hash of what ``method`` with ``overrides`` (canonical JSON values) computes on every probe model; with
    ``instructions``, also what it computes when given a task instruction."""
    from ..backbones import load_backbone
    from ..encoder import Encoder

    models = dict(models or probe_models())
    outputs: list[Any] = []
    with _isolated():
        for arch in PROBE_ARCHS:
            backbone = load_backbone(models[arch], dtype="float32", device="cpu")
            options = probe_overrides(method, overrides, backbone.num_layers)
            try:
                encoder = Encoder.from_pretrained(backbone, method, max_length=PROBE_MAX_LENGTH, **options)
                outputs += [arch, *_encoder_outputs(encoder, instructions)]
            except (ValueError, TypeError, RuntimeError) as err:  # what a configuration fails with is what it does
                outputs += [arch, "fails", type(err).__name__]
    outputs += _baseline_settings(method, overrides)
    return _digest(outputs)


def _baseline_settings(method: str, overrides: Mapping[str, Any]) -> list[Any]:
    """Token Prepending / Contrastive Prompting settings resolved on every named backbone's depth: a rule that
    scales layers can agree with another at the probe models' few layers and differ at a real depth. Empty
    for every other method, so their fingerprints are as before."""
    from ..backbones import BACKBONES
    from ..overrides import configure

    spec = configure(method, **dict(overrides))
    out: list[Any] = []
    for part in (spec.token_prepending, spec.contrastive):
        if part is None:
            continue
        for name, backbone in BACKBONES.items():
            if backbone.num_layers:
                source = backbone.hub_id or backbone.gguf_file or name
                try:
                    out += [name, sorted(part.settings(source, name, backbone.num_layers).values.items())]
                except ValueError as err:
                    out += [name, "fails", type(err).__name__]
    return out


class ProbeEncoder:
    """A deterministic stand-in encoder for the evaluation probe: hashed character trigrams (similar texts get
    similar vectors), shifted by role and instruction so the adapter's choice of each is seen."""

    dim = 32
    max_length = PROBE_MAX_LENGTH

    def __init__(self, kind: str) -> None:
        from ..methods import get_method

        # the kinds are roles, not methods: "echo" is the query-side symmetric role with an instruction slot,
        # which the registry's Echo had until its default became the one-template zero-shot prompt; the same
        # spec under the same name keeps every recorded evaluation fingerprint
        self.method = replace(get_method("echo_finetuned"), name="echo") if kind == "echo" else get_method(kind)
        self.stats = {"texts": 0, "tokens": 0, "seconds": 0.0, "oom_halvings": 0}
        self.cache = None

    @property
    def layers(self) -> tuple[int, ...]:
        return ()

    def describe(self) -> dict[str, Any]:
        return {"backbone": "probe", "method": self.method.name, "revision": None, "dtype": "float32",
                "device": "cpu"}

    def _vector(self, text: str, role: str, instruction: str | None) -> np.ndarray:
        v = np.zeros(self.dim)
        padded = f"  {text}  "
        for i in range(len(padded) - 2):
            v[zlib.crc32(padded[i:i + 3].encode()) % self.dim] += 1.0
        v[zlib.crc32(role.encode()) % self.dim] += 0.5
        if instruction:
            v[zlib.crc32(instruction.encode()) % self.dim] += 0.25
        return v / max(np.linalg.norm(v), 1e-12)

    def encode(self, texts: Sequence[str], prompt_type: str = "document", batch_size: int = 32,
               show_progress_bar: bool | None = None, instruction: str | None = None) -> np.ndarray:
        self.stats["texts"] += len(texts)
        return np.stack([self._vector(t, prompt_type, instruction) for t in texts]).astype(np.float32) \
            if len(texts) else np.zeros((0, self.dim), dtype=np.float32)


def evaluation_fingerprint(task_type: str, instructions: bool = False) -> str:
    """Hash of a tiny task of ``task_type`` evaluated as the runner evaluates one (with or without task
    ``instructions``): mteb's evaluator through the adapter, the score rows, the per-item scores and (STS) the
    geometry and the mteb-free evaluator. A type without a probe task hashes every probe task with its name."""
    import mteb

    from ..eval import geometry, item_scores
    from ..eval.mteb_model import MTEBEncoder
    from ..eval.tasks import get_task, load_task_data
    from . import results

    outputs: list[Any] = [task_type, instructions]
    names = [EVAL_TASKS[task_type]] if task_type in EVAL_TASKS else list(EVAL_TASKS.values())
    with _isolated():
        for name in names:
            for kind in EVAL_METHOD_KINDS:
                task = get_task(name, limit=EVAL_LIMIT, data="local")
                load_task_data(task)
                model = MTEBEncoder(ProbeEncoder(kind), batch_size=PROBE_BATCH, use_instructions=instructions)
                model.record(item_scores.supports(task))
                result = mteb.evaluate(model, [task], cache=None, overwrite_strategy="always",
                                       encode_kwargs={"batch_size": PROBE_BATCH}, show_progress_bar=False)
                rows = results.flatten_scores(result.task_results[0])
                outputs += [name, kind]
                outputs += [(r["split"], r["subset"], r["metric"], bool(r["is_main"]), float(r["value"]))
                            for r in rows]
                if model.recorded is not None:
                    items = item_scores.task_items(task, model.lookup)
                    if items is not None:
                        outputs += [list(items.columns)]
                        outputs += [items[c].to_numpy(dtype=np.float64) if items[c].dtype.kind in "fiub"
                                    else items[c].astype(str).tolist() for c in items.columns]
                        if task.metadata.type == "STS":
                            outputs += sorted(geometry.sts_geometry(task, model.lookup).items())
        if task_type == "STS" and not instructions:  # the evaluator without mteb (scripts/stsb_methods.py)
            from ..data.stsb import load_stsb
            from ..eval.sts import evaluate_sts

            for kind in EVAL_METHOD_KINDS:
                res = evaluate_sts(ProbeEncoder(kind), load_stsb("test")[:EVAL_LIMIT], batch_size=PROBE_BATCH)
                outputs += [kind, float(res.spearman), res.n_pairs, res.n_texts]
    return _digest(outputs)


def combine(embeddings: str, evaluation: str, package_versions: Mapping[str, Any] | None = None) -> str:
    """A row's fingerprint: its embeddings' and its task type's evaluation's, with the package versions."""
    return stable_hash({"v": FINGERPRINT_VERSION, "embeddings": embeddings, "evaluation": evaluation,
                        "versions": dict(package_versions or versions())}, 16)


def source_hash() -> str:
    """A hash of the text of every Python file of the package: the cache key of its fingerprints."""
    return stable_hash([(p.relative_to(PACKAGE).as_posix(), p.read_text(encoding="utf-8"))
                        for p in sorted(PACKAGE.rglob("*.py"))], 16)


def _key(method: str, overrides: Mapping[str, Any], instructions: bool) -> str:
    return json.dumps({"method": method, "overrides": dict(overrides), "instructions": instructions}, sort_keys=True)


class Fingerprints:
    """Fingerprints of this checkout's code, computed once per source state: kept in memory and on disk under
    ``<cache>/fingerprints/<source hash>.json`` (the raw source hash is the cache key, never the identity)."""

    def __init__(self, folder: Path | None = None) -> None:
        # every source file of the package, the probe's own included: any edit computes the fingerprints afresh
        self.source = stable_hash({"code": source_hash(), "versions": versions()}, 16)
        self.path = Path(folder or cache_dir("fingerprints")) / f"{self.source}.json"
        self.known: dict[str, str] = {}
        if self.path.exists():
            try:
                self.known = dict(json.loads(self.path.read_text()))
            except (OSError, ValueError, TypeError):
                log.warning("fingerprint cache %s is unreadable; computing afresh", self.path)
        self._models: dict[str, str] | None = None

    def _remember(self, key: str, value: str) -> str:
        self.known[key] = value
        atomic_write_bytes(self.path, json.dumps(self.known, indent=1, sort_keys=True).encode())
        return value

    def embeddings(self, method: str, overrides: Mapping[str, Any], instructions: bool = False) -> str:
        key = "embeddings " + _key(method, overrides, instructions)
        if key not in self.known:
            self._models = self._models or probe_models()
            log.info("Fingerprinting %s %s on the probe models", method, dict(overrides) or "")
            self._remember(key, embeddings_fingerprint(method, overrides, self._models, instructions))
        return self.known[key]

    def evaluation(self, task_type: str, instructions: bool = False) -> str:
        key = f"evaluation {task_type} instructions={instructions}"
        if key not in self.known:
            log.info("Fingerprinting the %s evaluation", task_type)
            self._remember(key, evaluation_fingerprint(task_type, instructions))
        return self.known[key]

    def row(self, method: str, overrides: Mapping[str, Any], task_type: str,
            instructions: bool = False) -> dict[str, str]:
        """The three fingerprint columns of a row of ``method`` + ``overrides`` on a task of ``task_type``, from a
        job with or without task ``instructions``."""
        emb, ev = self.embeddings(method, overrides, instructions), self.evaluation(task_type, instructions)
        return {"fingerprint": combine(emb, ev), "fingerprint_embeddings": emb, "fingerprint_evaluation": ev}


@cache
def current() -> Fingerprints:
    """This process's fingerprints of the installed code (the source cannot change under a running process)."""
    return Fingerprints()



def is_current(rows: Any) -> Any:
    """Per row of a results frame (``method``, ``overrides``, ``task_type``, ``fingerprint`` and, where recorded,
    ``use_instructions`` columns): whether this code computes what the row's code computed. Rows without a
    recorded fingerprint are not current."""
    import pandas as pd

    if rows.empty or "fingerprint" not in rows:
        return pd.Series(False, index=rows.index)
    prints = current()
    given = rows["use_instructions"].fillna(False).astype(bool) if "use_instructions" in rows else [False] * len(rows)
    keys = list(zip(rows["method"], rows["overrides"], rows["task_type"], given))
    want = {k: _current_or_none(prints, *k) for k in dict.fromkeys(keys)}
    return pd.Series([want[k] for k in keys], index=rows.index).eq(rows["fingerprint"].astype(object))


def _current_or_none(prints: Fingerprints, method: str, overrides: str, task_type: str,
                     instructions: bool) -> str | None:
    try:
        return prints.row(method, json.loads(overrides), task_type, instructions)["fingerprint"]
    except ValueError as err:  # a method or option this code no longer has: nothing of it is current
        log.warning("No fingerprint for %s %s on %s: %s", method, overrides, task_type, err)
        return None
