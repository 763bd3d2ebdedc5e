"""A cost plan before any GPU is paid for: texts, tokens and GPU-hours per backbone × method × task.

Nothing is encoded. Texts and characters per task come from the task's data when it is available here
(the offline tasks), else from the descriptive statistics mteb ships in its wheel. Tokens are estimated
from characters (``chars_per_token``, 4.0 for English BPE vocabularies) plus the method's prompt, capped
at ``max_length`` on the average text (so truncation of the longest texts is not modelled; nor is a
classification task's training split, which mteb's statistics do not describe). GPU time
follows one of two stated throughput models:

* ``flops`` (default): a forward pass costs 2 · parameters FLOPs per token, on a GPU of ``peak_tflops``
  (989, an H100 SXM's dense bf16 peak) at ``utilisation`` (0.35);
* ``measured``: a tokens/s figure the user measured (``--tokens-per-s``), used as is.

Methods that encode more than the text and a prompt are counted so: Echo encodes the text twice,
Contrastive Prompting adds its contrast prompt up to its steering layer, and ``layers=auto`` adds the
TwoNN estimate's sample texts once per job.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd

from ..backbones import BACKBONES
from ..eval.tasks import data_source, get_task, locov1
from ..eval.tasks.locov1 import LOCOV1_TASKS
from ..methods import get_method
from ..recipe import Recipe, resolve
from .config import RunConfig
from .job import task_names

H100_BF16_TFLOPS = 989.0


@dataclass(frozen=True)
class Throughput:
    """How fast a GPU turns tokens into embeddings: FLOPs-based, or a measured tokens/s."""

    peak_tflops: float = H100_BF16_TFLOPS
    utilisation: float = 0.35
    tokens_per_s: float | None = None  # measured: overrides the FLOPs model

    def seconds(self, tokens: float, params: float) -> float:
        if self.tokens_per_s:
            return tokens / self.tokens_per_s
        return 2.0 * params * tokens / (self.peak_tflops * 1e12 * self.utilisation)

    def describe(self) -> str:
        if self.tokens_per_s:
            return f"measured throughput: {self.tokens_per_s:g} tokens/s"
        return (f"2·params FLOPs per token on {self.peak_tflops:g} TFLOP/s (H100 SXM dense bf16) at "
                f"{self.utilisation:.0%} utilisation")


@dataclass(frozen=True)
class TextStats:
    """How many texts a task encodes and their average length in characters, per role."""

    counts: dict[str, int]  # role -> texts
    chars: dict[str, float]  # role -> average characters
    source: str


# which statistics of mteb's descriptive-stats files are encoded, and in which role
_ENCODED = {"documents_text_statistics": "document", "queries_text_statistics": "query",
            "text_statistics": "document", "text1_statistics": "document", "text2_statistics": "document",
            "human_summaries_statistics": "document", "machine_summaries_statistics": "document"}


def _add_stats(stats: dict[str, Any], task_type: str, counts: dict[str, int], chars: dict[str, float]) -> None:
    """Add one split's encoded texts (per role) and their total characters to ``counts`` and ``chars``."""
    for key, role in _ENCODED.items():
        block = stats.get(key)
        if not block or (task_type == "Summarization" and key == "text_statistics"):
            continue  # a summarization task encodes the summaries, not the source text
        counts[role] = counts.get(role, 0) + round(block["total_text_length"] /
                                                   max(block["average_text_length"], 1e-9))
        chars[role] = chars.get(role, 0.0) + block["total_text_length"]


def _split_stats(task, split: str) -> dict[str, Any]:
    """mteb's statistics of one split, computed from the loaded data (retrieval data sits under a subset)."""
    try:
        return task._calculate_descriptive_statistics_from_split(split)
    except (KeyError, TypeError):
        return task._calculate_descriptive_statistics_from_split(split, hf_subset="default")


def task_stats(name: str, run: RunConfig) -> TextStats | None:
    """Texts and characters of one task (None when neither its data nor mteb's statistics are here)."""
    return _task_stats(name, run.benchmark.limit, run.benchmark.data, run.benchmark.split)


@cache  # a plan asks for the same task once per backbone × method: load its data or statistics once
def _task_stats(name: str, limit: int | None, data: str, split: str | None = None) -> TextStats | None:
    task = get_task(name, limit=limit, data=data, split=split)
    kind = task.metadata.type
    source = data_source(name, data)
    if source == "local files" or (source == "packaged files" and name not in LOCOV1_TASKS):
        task.load_data()
        stats = {s: _split_stats(task, s) for s in task.eval_splits}
        source = "the task's data"
    else:
        path = resources.files("mteb") / "descriptive_stats" / kind / f"{name}.json"
        if name in LOCOV1_TASKS and not path.is_file():
            n = len(LOCOV1_TASKS)
            return TextStats({"document": round(locov1.TOTAL_DOCUMENTS / n), "query": round(locov1.TOTAL_QUERIES / n)},
                             {"document": locov1.DOCUMENT_CHARS, "query": locov1.QUERY_CHARS},
                             "LoCoV1 dataset cards' totals / 12 (documents fill max_length)")
        if not path.is_file():
            return None
        stats = json.loads(path.read_text())
        source = "mteb's descriptive statistics"
    counts: dict[str, int] = {}
    total_chars: dict[str, float] = {}
    for s in task.eval_splits:
        _add_stats(stats.get(s) or {}, kind, counts, total_chars)
    if not counts:
        return None
    return TextStats(counts, {role: total_chars[role] / counts[role] for role in counts}, source)


def text_tokens(chars: float, chars_per_token: float) -> float:
    return chars / chars_per_token


def prompt_tokens(template: str | None, chars_per_token: float) -> tuple[float, int]:
    """(tokens of the template around the text, number of copies of the text) for one template."""
    if template is None:
        return 1.0, 1  # the tokenizer's special tokens, at most
    copies = template.count("{text}")
    literal = template.replace("{text}", "").replace("{pst}", "").replace("{eos}", "")
    return len(literal) / chars_per_token + template.count("{pst}") + template.count("{eos}"), copies


def resolve_for_plan(run: RunConfig) -> Recipe | None:
    """The job's method as it runs on its backbone (Token Prepending's paired prompt, Contrastive Prompting's
    layer), from the registry's declared depth; None when the backbone declares none (the plan then prices
    the method as configured)."""
    backbone = BACKBONES.get(run.backbone.name)
    facts = backbone.facts() if backbone else None
    return resolve(run.overrides.apply(get_method(run.method.name.value)), facts) if facts else None


def plan(runs: list[RunConfig], throughput: Throughput = Throughput(), chars_per_token: float = 4.0,
         id_samples_chars: float = 100.0) -> pd.DataFrame:
    """One row per (job, task) with texts, tokens and estimated GPU-hours; unknown tasks have NaN."""
    rows = []
    for run in runs:
        backbone = BACKBONES.get(run.backbone.name)
        params = backbone.params if backbone and backbone.params else float("nan")
        recipe = resolve_for_plan(run)
        method = recipe.spec if recipe else run.overrides.apply(get_method(run.method.name.value))
        extra = 1.0
        if recipe is not None and recipe.cp is not None:  # the contrast prompt runs to the steered layer only
            extra += (recipe.cp.layer + 1) / backbone.num_layers
        for name in task_names(run):
            stats = task_stats(name, run)
            row = {"backbone": run.backbone.name, "method": method.name, "task": name,
                   "max_length": run.max_length}
            if stats is None:
                rows.append({**row, "texts": float("nan"), "tokens": float("nan"), "gpu_hours": float("nan"),
                             "source": "no statistics here"})
                continue
            tokens = 0.0
            for role, n in stats.counts.items():
                literal, copies = prompt_tokens(method.prompt.for_role(role), chars_per_token)
                text = text_tokens(stats.chars[role], chars_per_token)
                if method.tokenization == "pieces":  # Echo: each copy is capped on its own
                    per_text = copies * min(run.max_length, text) + literal
                else:
                    per_text = min(run.max_length, copies * text + literal)
                tokens += n * per_text * extra
            texts = sum(stats.counts.values())
            rows.append({**row, "texts": texts, "tokens": tokens,
                         "gpu_hours": throughput.seconds(tokens, params) / 3600, "source": stats.source})
        layer_spec = method.routing.layers if method.routing is not None else None
        if layer_spec is not None and layer_spec.strategy == "auto":
            n_samples = layer_spec.n_samples
            literal, _ = prompt_tokens(method.prompt.document, chars_per_token)
            tokens = n_samples * min(run.max_length, id_samples_chars / chars_per_token + literal)
            rows.append({"backbone": run.backbone.name, "method": method.name, "task": "layers=auto (ID estimate)",
                         "max_length": run.max_length, "texts": n_samples, "tokens": tokens,
                         "gpu_hours": throughput.seconds(tokens, params) / 3600, "source": "sample size"})
    return pd.DataFrame(rows)


def total_line(table: pd.DataFrame, jobs: int) -> str:
    """``total: 24 jobs, 1.9M texts, 410M tokens, ~31 GPU-h``."""
    def human(x: float) -> str:
        for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if x >= div:
                return f"{x / div:.1f}{unit}"
        return f"{x:.0f}"

    hours = table["gpu_hours"].sum()
    unknown = int(table["texts"].isna().sum())
    tail = f" ({unknown} task rows without statistics, not counted)" if unknown else ""
    shown = f"{hours:.2g}" if hours < 10 else f"{math.ceil(hours)}"
    return (f"total: {jobs} jobs, {human(table['texts'].sum())} texts, {human(table['tokens'].sum())} tokens, "
            f"~{shown} GPU-h{tail}")
