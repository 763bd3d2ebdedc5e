"""The ablation study (which parts of KV-Embedding carry the gain) as data, and its report.

``STAGES`` lists the named experiments each stage runs (``experiments/ablation.py`` runs them);
``render`` reads their results back by configuration (``kvembed.harness.study``) and writes
``results/ablation.md``: every score with a percentile-bootstrap 95% interval over the evaluation
pairs/queries, every difference with a *paired* bootstrap interval (the same resampled pairs for
both configurations), and a one-line conclusion per question computed from those numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from ..eval.item_scores import bootstrap_ci, paired_difference_ci
from ..harness.study import experiment_jobs, experiment_scores
from .intervals import N_BOOT, category_ci

DEV = "benchmark=offline_dev"  # where every choice is made: STS-B dev pairs (mteb's "validation" split)
TEST = "benchmark=offline"  # where the choices are confirmed: the full STS-B test split and the proxies
GEMMA = "backbone=gemma3-270m"
# Real data: the offline Table 1's benchmark (MTEB's STS category, Banking77 and AmazonCounterfactual from
# original files, a fixed sample per task) for SmolLM2; the STS category alone, on fewer pairs, for Qwen
REAL_SMOLLM2 = ("benchmark=offline_real",)
QWEN = "backbone=qwen2.5-coder-0.5b"
QWEN_DEV = (DEV, QWEN, "benchmark.limit=200")
REAL_QWEN = ("benchmark=sts_real", "benchmark.limit=50", QWEN)


@dataclass(frozen=True)
class Question:
    """One question of the study: a named experiment run where ``context`` says (benchmark, backbone), its
    variants set by ``overrides`` plus the settings chosen on the dev split that it ``needs``."""

    key: str
    title: str
    experiment: str | None
    overrides: tuple[str, ...] = ()
    stage: str = "screen"
    context: tuple[str, ...] = (DEV,)
    needs: tuple[str, ...] = ()  # keys of CHOICES whose dev-selected values become overrides
    refs: tuple[str, ...] = ("kvembed", "kvembed_no_reroute")  # methods every variant is compared with (paired)

    def resolve(self, chosen: dict[str, Choice]) -> tuple[str, ...] | None:
        """Context, fixed overrides and the chosen settings this question needs (None: not chosen yet)."""
        if any(n not in chosen for n in self.needs):
            return None
        return (*self.context, *self.overrides, *(o for n in self.needs for o in chosen[n].overrides))


@dataclass(frozen=True)
class Choice:
    """A setting chosen on the dev split: the best variant of one question (highest STSBenchmark score)."""

    key: str
    question: str
    values: dict[str, str]
    score: float
    n_variants: int

    @property
    def overrides(self) -> tuple[str, ...]:
        return tuple(f"{k}={v}" for k, v in self.values.items())


# What the study chooses, each from one dev-split question: (question key, the swept settings it fixes)
CHOICES: dict[str, tuple[str, tuple[str, ...]]] = {
    "window": ("window", ("layers.start",)),
    "bias": ("bias_window", ("bias",)),
    "recipe": ("prompt_pooling", ("prompt", "pooling")),
    "qwen_window": ("qwen_window", ("layers.start",)),
}

QUESTIONS: list[Question] = [
    Question("components", "Which component carries the gain?", "ablate_components"),
    Question("window", "Where across depth does re-routing help? (window of ⌊0.1·L⌋ layers)", "layer_sweep",
             ("layers.start=range(0,28)",)),
    Question("bias", "Prefix logit bias (at the auto layers)", "bias_sweep"),
    Question("auto", "Does layers=auto find the best window?", "layer_strategies"),
    Question("rope", "Prefix RoPE: keep the final token's rotation or re-rotate to position 0", "ablate_rope"),
    Question("baselines", "The baselines on the same pairs", "table1_offline"),
    Question("prompt_pooling", "Prompt template × pooling (re-routing on)", "ablate_prompt_pooling"),
    Question("gemma_components", "Gemma-3-270M: components", "ablate_components", (), "gemma", (DEV, GEMMA)),
    Question("gemma_window", "Gemma-3-270M: window position (⌊0.1·18⌋ = 1 layer)", "layer_sweep",
             ("layers.start=range(0,18,3)",), "gemma", (DEV, GEMMA)),
    Question("bias_window", "Prefix logit bias at the window chosen on dev", "bias_sweep_window", (), "confirm",
             needs=("window",)),
    Question("tuned_dev", "The dev-chosen recipe (prompt, pooling, window, bias) on the dev pairs", "ablation_tuned",
             (), "confirm", needs=("recipe", "window", "bias"), refs=("kvembed", "prompteol")),
    Question("confirm", "Test split: the references (full STS-B test split + proxies)", "ablation_confirm", (),
             "confirm", (TEST,), refs=("kvembed", "kvembed_no_reroute", "prompteol")),
    Question("window_test", "Test split: the window chosen on dev", "ablation_confirm_window", (), "confirm", (TEST,),
             needs=("window",)),
    Question("tuned_test", "Test split: the dev-chosen recipe", "ablation_tuned", (), "confirm", (TEST,),
             needs=("recipe", "window", "bias"), refs=("kvembed", "kvembed_no_reroute", "prompteol")),
    Question("real", "Real data (the offline Table 1's tasks; MTEB's STS category, 100 pairs per task): the "
             "references", "ablation_confirm", (), "real", REAL_SMOLLM2,
             refs=("kvembed", "kvembed_no_reroute", "prompteol")),
    Question("window_real", "Real data: the window chosen on dev", "ablation_confirm_window",
             (), "real", REAL_SMOLLM2, needs=("window",)),
    Question("qwen_window", "Qwen2.5-Coder-0.5B-Instruct (code-tuned): window position on the dev split "
             "(⌊0.1·24⌋ = 2 layers, every third start, 200 dev pairs)", "layer_sweep", ("layers.start=range(0,23,3)",),
             "real_qwen", QWEN_DEV, refs=()),
    Question("qwen_real", "Real data, Qwen2.5-Coder-0.5B-Instruct (code-tuned), MTEB's STS category (8 tasks, "
             "50 pairs each): every Table 1 method, and re-routing on and off", "real_qwen", (), "real_qwen",
             REAL_QWEN, refs=("kvembed", "kvembed_no_reroute", "prompteol")),
    Question("qwen_window_real", "Real data, Qwen2.5-Coder-0.5B-Instruct: the window chosen on dev",
             "ablation_confirm_window", (), "real_qwen", REAL_QWEN, needs=("qwen_window",)),
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
    return Choice(key, question, {s: str(best["swept"][s]) for s in settings}, float(best["main_score"]), len(sts))


def select_on_dev(results_dir: Path | str = "results") -> dict[str, Choice]:
    """Every setting the study chooses, from the dev-split results on disk (choices not runnable yet left out)."""
    chosen: dict[str, Choice] = {}
    for key, (question, settings) in CHOICES.items():
        q = BY_KEY[question]
        overrides = q.resolve(chosen)
        if overrides is None:
            continue
        choice = choose(experiment_scores(q.experiment, overrides, results_dir), settings, key, question)
        if choice is not None:
            chosen[key] = choice
    return chosen


def ref_column(method: str) -> str:
    """The table column holding the paired difference against ``method``."""
    return {"kvembed": "vs_kvembed", "kvembed_no_reroute": "vs_no_reroute"}.get(method, f"vs_{method}")


@cache
def _items(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def _fmt(x: float, lo: float, hi: float, signed: bool = False) -> str:
    f = "{:+.2f}" if signed else "{:.2f}"
    return f"{f.format(100 * x)} [{f.format(100 * lo)}, {f.format(100 * hi)}]"


def _reference(backbone_overrides: tuple[str, ...], method: str, results_dir: Path, task: str) -> pd.Series | None:
    ref = experiment_scores(None, [*backbone_overrides, f"method={method}"], results_dir)
    ref = ref[ref["task_name"] == task] if len(ref) else ref
    return ref.iloc[0] if len(ref) else None


def question_table(q: Question, results_dir: Path, chosen: dict[str, Choice] | None = None) -> pd.DataFrame:
    """One row per finished (variant, task): score with CI, and paired differences against the reference
    methods (``q.refs``) run in the same context, where both have per-item scores."""
    overrides = q.resolve(select_on_dev(results_dir) if chosen is None else chosen)
    if overrides is None:
        return pd.DataFrame()
    scores = experiment_scores(q.experiment, overrides, results_dir)
    if scores.empty:
        return scores
    references = {(m, task): _reference(q.context, m, results_dir, task)
                  for m in q.refs for task in scores["task_name"].unique()}
    # a question without a sweep has one job: name it by the settings it was given, not "default"
    given = ", ".join(o for o in overrides if o not in q.context) or "default"
    rows = []
    for _, r in scores.iterrows():
        label = given if r["label"] == "default" else r["label"]
        row = {"variant": label, "task": r["task_name"], "split": r["split"], "layers": r["layers"],
               "score": r["main_score"]}
        if not isinstance(r["items"], str):
            rows.append(row)
            continue
        items = _items(r["items"])
        score, lo, hi = bootstrap_ci(items, N_BOOT)
        out = dict(row, score=score, ci_low=lo, ci_high=hi, n_items=len(items))
        for m in q.refs:
            ref = references[(m, r["task_name"])]
            if ref is not None and isinstance(ref["items"], str):
                d, dlo, dhi = paired_difference_ci(items, _items(ref["items"]), N_BOOT)
                name = ref_column(m)
                out.update({name: d, f"{name}_low": dlo, f"{name}_high": dhi})
        rows.append(out)
    return pd.DataFrame(rows)


def category_table(q: Question, results_dir: Path, chosen: dict[str, Choice] | None = None) -> pd.DataFrame:
    """One row per variant that ran every task of the question: the mean over tasks with its CI, and the
    paired difference of that mean against each reference method (same tasks, same resampled pairs)."""
    overrides = q.resolve(select_on_dev(results_dir) if chosen is None else chosen)
    scores = experiment_scores(q.experiment, overrides, results_dir) if overrides is not None else pd.DataFrame()
    if not scores.empty:  # the real STS category: the tasks scored pair by pair
        scores = scores[(scores["task_type"] == "STS") & ~scores["is_proxy"]]
    if scores.empty or not scores["items"].map(lambda x: isinstance(x, str)).all():
        return pd.DataFrame()
    tasks = sorted(scores["task_name"].unique())
    given = ", ".join(o for o in overrides if o not in q.context) or "default"
    rows = []
    for label, runs in scores.groupby("label", sort=False):
        runs = runs.set_index("task_name")
        if sorted(runs.index) != tasks:
            continue
        items = [_items(runs.loc[t, "items"]) for t in tasks]
        score, lo, hi = category_ci(items)
        row = {"variant": given if label == "default" else label, "tasks": len(tasks),
               "pairs": sum(len(i) for i in items), "score": score, "ci_low": lo, "ci_high": hi}
        for m in q.refs:
            refs = [_reference(q.context, m, results_dir, t) for t in tasks]
            if all(r is not None and isinstance(r["items"], str) for r in refs):
                d, dlo, dhi = category_ci(items, [_items(r["items"]) for r in refs])
                name = ref_column(m)
                row.update({name: d, f"{name}_low": dlo, f"{name}_high": dhi})
        rows.append(row)
    return pd.DataFrame(rows)


def _category_markdown(table: pd.DataFrame, refs: tuple[str, ...]) -> str:
    out = []
    for _, r in table.iterrows():
        line = {"variant": r["variant"], "tasks": r["tasks"], "pairs": r["pairs"],
                "mean ×100 [95% CI]": _fmt(r["score"], r["ci_low"], r["ci_high"])}
        for method in refs:
            name = ref_column(method)
            line[f"Δ mean vs {method}"] = (_fmt(r[name], r[f"{name}_low"], r[f"{name}_high"], signed=True)
                                           if name in r and pd.notna(r.get(name)) else "")
        out.append(line)
    return pd.DataFrame(out).to_markdown(index=False)


def layer_runs(value) -> str:
    """[3, 4, 5] -> '3–5' (runs of consecutive layers collapsed), [] -> 'none'."""
    layers = [] if value is None else [int(x) for x in value]
    if not layers:
        return "none"
    runs, start = [], layers[0]
    for prev, cur in zip(layers, layers[1:] + [None]):
        if cur != prev + 1 if cur is not None else True:
            runs.append(f"{start}–{prev}" if prev > start else f"{start}")
            start = cur
    return ", ".join(runs)


def _markdown(table: pd.DataFrame, refs: tuple[str, ...]) -> str:
    out = []
    for _, r in table.iterrows():
        line = {"variant": r["variant"], "task": r["task"], "split": split_name(r.get("split")),
                "layers": layer_runs(r["layers"])}
        if "ci_low" in r and pd.notna(r.get("ci_low")):
            line["score ×100 [95% CI]"] = _fmt(r["score"], r["ci_low"], r["ci_high"])
        else:
            line["score ×100 [95% CI]"] = f"{100 * r['score']:.2f}"
        for method in refs:
            name, title = ref_column(method), f"Δ vs {method}" + (" (paper)" if method == "kvembed" else "")
            if name in r and pd.notna(r.get(name)):
                line[title] = _fmt(r[name], r[f"{name}_low"], r[f"{name}_high"], signed=True)
            else:
                line[title] = ""
        out.append(line)
    return pd.DataFrame(out).to_markdown(index=False)


def split_name(split: str | None) -> str:
    """mteb's split name as STS-B users know it (mteb calls the STS-B dev split ``validation``)."""
    return {"validation": "dev", None: ""}.get(split, str(split))


def _verdict(d: float, lo: float, hi: float) -> str:
    if lo > 0:
        return f"better by {100 * d:.2f} points (95% CI {100 * lo:+.2f} to {100 * hi:+.2f})"
    if hi < 0:
        return f"worse by {-100 * d:.2f} points (95% CI {100 * lo:+.2f} to {100 * hi:+.2f})"
    return f"no detectable difference ({100 * d:+.2f} points, 95% CI {100 * lo:+.2f} to {100 * hi:+.2f})"


def conclusion(q: Question, table: pd.DataFrame) -> str:
    """One plain sentence per question, computed from the table."""
    if table.empty or "score" not in table:
        return "Not run yet."
    sts = table[table["task"] == "STSBenchmark"]
    if sts.empty:
        return "Not run yet."
    best = sts.loc[sts["score"].idxmax()]
    worst = sts.loc[sts["score"].idxmin()]
    where = f"on the STS-B {split_name(best.get('split'))} split: " if "split" in sts else ""
    if len(sts) == 1:
        against, parts = "against", [f"{where}{best['variant']} scores {100 * best['score']:.2f}"]
    else:
        against = "best vs"
        parts = [f"{where}best: {best['variant']} ({100 * best['score']:.2f}), worst: {worst['variant']} "
                 f"({100 * worst['score']:.2f})"]
    described = {"kvembed_no_reroute": "kvembed_no_reroute (the paper's prompt and pooling, no re-routing)",
                 "kvembed": "the paper's kvembed"}
    for method in q.refs:
        col = ref_column(method)
        if col in sts and pd.notna(best.get(col)) and best[col] != 0:
            parts.append(f"{against} {described.get(method, method)}: "
                         f"{_verdict(best[col], best[f'{col}_low'], best[f'{col}_high'])}")
    return "; ".join(parts) + "."


def auto_gap(results_dir: Path) -> pd.DataFrame:
    """Each layers=auto variant's choice against the best window of the sweep (paired difference)."""
    window, auto = BY_KEY["window"], BY_KEY["auto"]
    sweep = experiment_scores(window.experiment, window.resolve({}), results_dir)
    variants = experiment_scores(auto.experiment, auto.resolve({}), results_dir)
    if sweep.empty or variants.empty:
        return pd.DataFrame()
    sweep, variants = sweep[sweep["task_name"] == "STSBenchmark"], variants[variants["task_name"] == "STSBenchmark"]
    best = sweep.loc[sweep["main_score"].idxmax()]
    rows = []
    for _, v in variants.iterrows():
        if not (isinstance(v["items"], str) and isinstance(best["items"], str)):
            continue
        d, lo, hi = paired_difference_ci(_items(best["items"]), _items(v["items"]), N_BOOT)
        rows.append({"auto variant": v["label"], "chosen layers": layer_runs(v["layers"]),
                     "score ×100": round(100 * v["main_score"], 2),
                     "best swept window": layer_runs(best["layers"]), "best ×100": round(100 * best["main_score"], 2),
                     "gap (best − variant) [95% CI]": _fmt(d, lo, hi, signed=True)})
    return pd.DataFrame(rows)


def _limit_note() -> str:
    dev = experiment_jobs(None, [DEV])[0].config.benchmark
    pairs = f"a fixed random sample of {dev.limit} of its 1,500 pairs" if dev.limit else "all 1,500 pairs"
    return (f"**Splits.** Every choice is made on the STS-B *dev* split (mteb's `validation`; `{DEV}`: {pairs}) "
            f"and confirmed on the *test* split (`{TEST}`: the full 1,379-pair STS-B test split and the six "
            "offline proxies), which no choice looks at (`choose` refuses non-dev rows). Each table's `split` "
            "column says where its numbers come from.\n")


def choices_table(chosen: dict[str, Choice]) -> str:
    """The settings chosen on dev, with the score that chose them and the command that runs the recipe."""
    if not chosen:
        return "\nNothing chosen yet: run the dev stages (`python experiments/ablation.py --stages screen`).\n"
    rows = [{"choice": c.key, "setting": ", ".join(c.overrides), "from question": c.question,
             "dev score ×100": round(100 * c.score, 2), "variants compared": c.n_variants} for c in chosen.values()]
    text = "\n" + pd.DataFrame(rows).to_markdown(index=False) + "\n"
    tuned = BY_KEY["tuned_test"].resolve(chosen)
    if tuned is not None:
        text += ("\nThe dev-chosen recipe (not the paper's method; chosen greedily: window with the paper's prompt, "
                 "bias at that window, prompt × pooling at the auto layers): `python -m kvembed.run "
                 f"experiment={BY_KEY['tuned_test'].experiment} {' '.join(tuned[1:])}`\n")
    return text


def render(results_dir: Path | str = "results") -> Path:
    """Write results/ablation.md (and results/ablation.csv with every number) from whatever has run."""
    results_dir = Path(results_dir)
    chosen = select_on_dev(results_dir)
    parts = ["# Ablation study: which parts of KV-Embedding carry the gain (offline backbones)\n\n",
             "Regenerate: `make ablation` (runs what is missing, skips finished runs, re-renders this file).\n\n",
             _limit_note(), "\n",
             "Scores are Spearman ×100 for STSBenchmark (mteb's task, cosine) and nDCG@10 ×100 for retrieval; "
             "intervals are 95% percentile bootstraps over the evaluation pairs/queries "
             f"({N_BOOT} resamples). Δ columns are *paired* bootstraps (both configurations scored on the same "
             "resampled pairs), so a Δ interval that excludes 0 is a real difference on this data: "
             "`Δ vs kvembed (paper)` against `method=kvembed` with every paper default, `Δ vs kvembed_no_reroute` "
             "against the same compression prompt and mean+last pooling without re-routing, both on the same "
             "backbone, benchmark and split. SmolLM2-135M is the Q4_1 GGUF dequantised to fp32.\n",
             "\n## Chosen on the dev split\n", choices_table(chosen)]
    every = []
    for q in QUESTIONS:
        overrides = q.resolve(chosen)
        table = question_table(q, results_dir, chosen)
        shown = overrides if overrides is not None else (*q.context, *q.overrides, *(f"<{n} chosen on dev>"
                                                                                   for n in q.needs))
        n_jobs = len(experiment_jobs(q.experiment, overrides, results_dir)) if overrides is not None else 0
        n_done = table["variant"].nunique() if not table.empty else 0
        parts.append(f"\n## {q.title}\n\n`experiment={q.experiment}` " +
                     " ".join(f"`{o}`" for o in shown) + f" — {n_done} of {n_jobs} jobs run\n")
        if table.empty:
            parts.append("\nNot run yet.\n")
            continue
        parts.append("\n" + _markdown(table, q.refs) + "\n")
        parts.append(f"\n**Conclusion.** {conclusion(q, table)}\n")
        if q.context in (REAL_SMOLLM2, REAL_QWEN):
            category = category_table(q, results_dir, chosen)
            if not category.empty:
                parts.append("\nThe category (mean Spearman of its tasks; the paired Δ resamples every task's pairs "
                             "at once):\n\n" + _category_markdown(category, q.refs) + "\n")
        if q.key == "auto":
            gap = auto_gap(results_dir)
            if not gap.empty:
                parts.append("\nEach `auto` variant against the best window of the layer sweep (STSBenchmark, dev):\n\n"
                             + gap.to_markdown(index=False) + "\n")
        every.append(table.assign(question=q.key))
    out = results_dir / "ablation.md"
    out.write_text("".join(parts))
    if every:
        pd.concat(every, ignore_index=True).to_csv(results_dir / "ablation.csv", index=False)
    return out
