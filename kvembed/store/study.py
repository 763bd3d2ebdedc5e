"""The ablation study's control plane: its questions, the settings it chooses on dev, and its stages.

Each ``Question`` says two things: what to *run* (a named experiment, with Hydra overrides, in a
context of benchmark and backbone: ``experiments/ablation.py`` runs it) and which finished runs *answer*
it (a ``Selection`` over the columns every result row carries: backbone, benchmark, method and the
settings the user set), so reading the answer needs neither Hydra nor the runner. A ``Choice`` is a
setting chosen on the dev split from one question's runs; later questions run and read with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .results import ANY, ANY_OR_UNSET, Selection

SMOLLM2 = "backbone=smollm2-135m"
GEMMA = "backbone=gemma3-270m"
QWEN = "backbone=qwen2.5-coder-0.5b"
QWEN15 = "backbone=qwen2.5-coder-1.5b"
DEV_BENCHMARK = "benchmark=offline_dev"  # STS-B dev pairs (mteb's "validation" split): every choice is made here
TEST_BENCHMARK = "benchmark=offline"  # the full STS-B test split and the proxies: choices are confirmed here
DEV = (DEV_BENCHMARK, SMOLLM2)
TEST = (TEST_BENCHMARK, SMOLLM2)
# Real data: the offline Table 1's benchmark (MTEB's STS category, Banking77 and AmazonCounterfactual from
# original files, a fixed sample per task) for SmolLM2; the STS category alone, on fewer pairs, for Qwen
REAL_SMOLLM2 = ("benchmark=offline_real", SMOLLM2)
REAL_STS_BENCHMARKS = ("benchmark=offline_real", "benchmark=sts_real")  # MTEB's STS category, among others
QWEN_DEV = (DEV_BENCHMARK, QWEN, "benchmark.limit=200")
REAL_QWEN = ("benchmark=sts_real", "benchmark.limit=50", QWEN)
REAL_QWEN15 = ("benchmark=sts_real", "benchmark.limit=50", QWEN15)  # the 0.5B's seeded pairs (seeded per task)
NEW_REAL_QWEN = ("benchmark=class_pair_real", QWEN)  # Emotion and TwitterURLCorpus: SmolLM2's seeded items
# a context override → the result column that records it
CONTEXT_COLUMNS = {"benchmark": "benchmark", "backbone": "backbone", "benchmark.limit": "limit"}

PAPER = ("kvembed",)
COMPONENTS = ("kvembed", "kvembed_no_reroute", "kvembed_no_prompt", "kvembed_two_pass", "kvembed_bidirectional")
TABLE1_METHODS = ("kvembed", "last", "mean", "prompteol", "pretcot", "ke", "echo", "token_prepending", "cp")
REFERENCES = ("kvembed", "kvembed_no_reroute", "prompteol")
WINDOW = {"layers.strategy": "range", "layers.start": ANY}  # a window of ⌊0.1·L⌋ layers from a swept start
CHOSEN_WINDOW = {"layers.strategy": "range"}  # ... from the start chosen on dev


def context_columns(context: tuple[str, ...]) -> dict[str, Any]:
    """``("benchmark=offline_dev", "benchmark.limit=200")`` → ``{"benchmark": "offline_dev", "limit": 200}``."""
    out: dict[str, Any] = {}
    for override in context:
        key, value = override.split("=", 1)
        if key not in CONTEXT_COLUMNS:
            raise ValueError(f"context override {override!r}: only {sorted(CONTEXT_COLUMNS)} can set a context")
        out[CONTEXT_COLUMNS[key]] = int(value) if value.isdigit() else value
    return out


def format_value(value: Any) -> str:
    """A setting as a Hydra override value (``2.0`` → ``2``: one configuration either way)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "null" if value is None else str(value)


@dataclass(frozen=True)
class Choice:
    """A setting chosen on the dev split: the best variant of one question (highest STSBenchmark score)."""

    key: str
    question: str
    values: dict[str, Any]
    score: float
    n_variants: int

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{k}={format_value(v)}" for k, v in self.values.items())


@dataclass(frozen=True)
class Question:
    """One question of the study: ``experiment`` run in ``context`` (Hydra overrides: benchmark, backbone,
    limit) with ``overrides`` and the settings chosen on dev that it ``needs``; answered by the finished runs
    of ``methods`` in that context whose settings are ``settings`` plus the chosen ones (``Selection``)."""

    key: str
    title: str
    experiment: str
    overrides: tuple[str, ...] = ()
    stage: str = "screen"
    context: tuple[str, ...] = DEV
    needs: tuple[str, ...] = ()  # keys of CHOICES whose dev-selected values become overrides
    refs: tuple[str, ...] = ("kvembed", "kvembed_no_reroute")  # methods every variant is compared with (paired)
    methods: tuple[str, ...] = PAPER
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def on_real_sts_category(self) -> bool:
        """Whether it runs on MTEB's real STS category (several tasks, scored pair by pair), so its report also
        gives the category's mean with a joint interval and paired differences."""
        return any(c in REAL_STS_BENCHMARKS for c in self.context)

    def resolve(self, chosen: dict[str, Choice]) -> tuple[str, ...] | None:
        """Context, fixed overrides and the chosen settings this question needs, as Hydra overrides for the
        run (None: not chosen yet)."""
        if any(n not in chosen for n in self.needs):
            return None
        return (*self.context, *self.overrides, *(o for n in self.needs for o in chosen[n].overrides))

    @property
    def where(self) -> dict[str, Any]:
        """The context as result columns (benchmark, backbone, limit)."""
        return context_columns(self.context)

    def selection(self, chosen: dict[str, Choice]) -> Selection | None:
        """Which finished runs answer the question (None: not chosen yet)."""
        if any(n not in chosen for n in self.needs):
            return None
        settings = dict(self.settings)
        for n in self.needs:
            settings.update(chosen[n].values)
        return Selection(self.where, self.methods, settings)

    def given(self, chosen: dict[str, Choice]) -> str:
        """The settings every run of the question shares beyond the paper's (``default`` when none)."""
        return ", ".join(o for n in self.needs for o in chosen[n].overrides) or "default"

    def label(self, row: pd.Series) -> str:
        """A run's variant: the settings the question varies, as the run set them."""
        varied = [n for n, v in self.settings.items() if v in (ANY, ANY_OR_UNSET) or isinstance(v, tuple)]
        groups = {n for n in varied if "." not in n}
        parts = [f"method={row['method']}"] if len(self.methods) > 1 else []
        for name in varied:
            if name.split(".", 1)[0] in groups and name not in groups:
                continue  # described with its group
            parts.append(_describe(name, row["settings"]))
        return ", ".join(parts) or "default"


def _describe(name: str, given: dict[str, Any]) -> str:
    if "." in name or name in given:
        return f"{name}={format_value(given[name]) if name in given else 'default'}"
    inner = {k.split(".", 1)[1]: v for k, v in given.items() if k.startswith(name + ".")}
    if not inner:
        return f"{name}=default"
    head = inner.pop("strategy", "")
    params = ", ".join(f"{k}={format_value(v)}" for k, v in inner.items())
    return f"{name}={head}" + (f"({params})" if params else "")


# What the study chooses, each from one dev-split question: (question key, the settings it fixes)
CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "window": ("window", ("layers.start",)),
    "bias": ("bias_window", ("bias",)),
    "recipe": ("prompt_pooling", ("prompt", "pooling")),
    "qwen_window": ("qwen_window", ("layers.start",)),
}

QUESTIONS: list[Question] = [
    Question("components", "Which component carries the gain?", "ablate_components", methods=COMPONENTS),
    Question("window", "Where across depth does re-routing help? (window of ⌊0.1·L⌋ layers)", "layer_sweep",
             ("layers.start=range(0,28)",), settings=WINDOW),
    Question("bias", "Prefix logit bias (at the auto layers)", "bias_sweep", settings={"bias": ANY}),
    Question("auto", "Does layers=auto find the best window?", "layer_strategies",
             settings={"layers.strategy": ("auto", "none", "all"), "layers": ANY}),
    Question("rope", "Prefix RoPE: keep the final token's rotation or re-rotate to position 0", "ablate_rope",
             settings={"prefix_position": ANY_OR_UNSET}),
    Question("baselines", "The baselines on the same pairs", "table1_offline", methods=TABLE1_METHODS),
    Question("prompt_pooling", "Prompt template × pooling (re-routing on)", "ablate_prompt_pooling",
             settings={"prompt": ANY, "pooling": ANY}),
    Question("gemma_components", "Gemma-3-270M: components", "ablate_components", (), "gemma",
             (DEV_BENCHMARK, GEMMA), methods=COMPONENTS),
    Question("gemma_window", "Gemma-3-270M: window position (⌊0.1·18⌋ = 1 layer)", "layer_sweep",
             ("layers.start=range(0,18,3)",), "gemma", (DEV_BENCHMARK, GEMMA), settings=WINDOW),
    Question("bias_window", "Prefix logit bias at the window chosen on dev", "bias_sweep_window", (), "confirm",
             needs=("window",), settings={**CHOSEN_WINDOW, "bias": ANY}),
    Question("tuned_dev", "The dev-chosen recipe (prompt, pooling, window, bias) on the dev pairs", "ablation_tuned",
             (), "confirm", needs=("recipe", "window", "bias"), refs=("kvembed", "prompteol"),
             settings=CHOSEN_WINDOW),
    Question("confirm", "Test split: the references (full STS-B test split + proxies)", "ablation_confirm", (),
             "confirm", TEST, refs=REFERENCES, methods=REFERENCES),
    Question("window_test", "Test split: the window chosen on dev", "ablation_confirm_window", (), "confirm", TEST,
             needs=("window",), settings=CHOSEN_WINDOW),
    Question("tuned_test", "Test split: the dev-chosen recipe", "ablation_tuned", (), "confirm", TEST,
             needs=("recipe", "window", "bias"), refs=REFERENCES, settings=CHOSEN_WINDOW),
    Question("real", "Real data (the offline Table 1's tasks; MTEB's STS category, 100 pairs per task): the "
             "references", "ablation_confirm", (), "real", REAL_SMOLLM2, refs=REFERENCES, methods=REFERENCES),
    Question("window_real", "Real data: the window chosen on dev", "ablation_confirm_window",
             (), "real", REAL_SMOLLM2, needs=("window",), settings=CHOSEN_WINDOW),
    Question("qwen_window", "Qwen2.5-Coder-0.5B-Instruct (code-tuned): window position on the dev split "
             "(⌊0.1·24⌋ = 2 layers, every third start, 200 dev pairs)", "layer_sweep", ("layers.start=range(0,23,3)",),
             "real_qwen", QWEN_DEV, refs=(), settings=WINDOW),
    Question("qwen_real", "Real data, Qwen2.5-Coder-0.5B-Instruct (code-tuned), MTEB's STS category (8 tasks, "
             "50 pairs each): every Table 1 method, and re-routing on and off", "real_qwen", (), "real_qwen",
             REAL_QWEN, refs=REFERENCES, methods=(*TABLE1_METHODS, "kvembed_no_reroute")),
    Question("qwen_window_real", "Real data, Qwen2.5-Coder-0.5B-Instruct: the window chosen on dev",
             "ablation_confirm_window", (), "real_qwen", REAL_QWEN, needs=("qwen_window",), settings=CHOSEN_WINDOW),
    Question("qwen15_real", "Real data, Qwen2.5-Coder-1.5B-Instruct (code-tuned), MTEB's STS category (the 0.5B's "
             "50 pairs per task): re-routing on and off, and PromptEOL", "real_qwen",
             (f"method={','.join(REFERENCES)}",), "real_qwen_1.5b", REAL_QWEN15, refs=REFERENCES, methods=REFERENCES),
    Question("qwen_new_real", "Real data, Qwen2.5-Coder-0.5B-Instruct: EmotionClassification and TwitterURLCorpus "
             "(SmolLM2's 100 seeded items per task)", "real_qwen", (), "real_qwen_new", NEW_REAL_QWEN,
             refs=REFERENCES, methods=(*TABLE1_METHODS, "kvembed_no_reroute")),
]
BY_KEY = {q.key: q for q in QUESTIONS}
STAGES: dict[str, list[Question]] = {}
for _q in QUESTIONS:
    STAGES.setdefault(_q.stage, []).append(_q)


def choose(scores: pd.DataFrame, settings: tuple[str, ...], key: str = "", question: str = "") -> Choice | None:
    """The variant with the highest STSBenchmark score on the dev split (first on ties); refuses test rows,
    so no choice can ever be made on the numbers it is later confirmed on."""
    sts = scores[scores["task_name"] == "STSBenchmark"] if len(scores) else scores
    if sts.empty:
        return None
    if (sts["split"] != "validation").any():
        raise ValueError(f"choice {key!r}: refusing to choose on split(s) {sorted(set(sts['split']) - {'validation'})}"
                         " — settings are chosen on the dev split (validation) only")
    best = sts.loc[sts["main_score"].idxmax()]
    return Choice(key, question, {s: best["settings"][s] for s in settings}, float(best["main_score"]), len(sts))


def select_on_dev(runs: pd.DataFrame) -> dict[str, Choice]:
    """Every setting the study chooses, from the finished dev-split runs (``results.finished``; choices
    whose question has not run yet are left out)."""
    chosen: dict[str, Choice] = {}
    for key, (question, settings) in CHOICES.items():
        selection = BY_KEY[question].selection(chosen)
        if selection is None:
            continue
        choice = choose(selection.select(runs), settings, key, question)
        if choice is not None:
            chosen[key] = choice
    return chosen
