"""The ablation study (which parts of KV-Embedding carry the gain) as data, and its report.

``STAGES`` lists the named experiments each stage runs (``experiments/ablation.py`` runs them);
``render`` reads their results back by configuration (``kvembed.harness.study``) and writes
``results/ablation.md``: every score with a percentile-bootstrap 95% interval over the evaluation
pairs/queries, every difference with a *paired* bootstrap interval (the same resampled pairs for
both configurations), and a one-line conclusion per question computed from those numbers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from ..eval.item_scores import bootstrap_ci, paired_difference_ci
from ..eval.tasks.offline import sample_indices
from ..harness.study import experiment_jobs, experiment_scores, is_sweep

SCREEN = "benchmark=offline_screen"
GEMMA = "backbone=gemma3-270m"
N_BOOT = int(os.environ.get("KVEMBED_BOOTSTRAP", "1000"))  # resamples per interval (tests use fewer)


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    experiment: str
    overrides: tuple[str, ...] = ()
    stage: str = "screen"
    holdout: bool = False  # also score STSBenchmark on the test pairs the screening sample left out
    refs: tuple[str, ...] = ("kvembed", "kvembed_no_reroute")  # methods every variant is compared with (paired)


QUESTIONS: list[Question] = [
    Question("components", "Which component carries the gain?", "ablate_components", (SCREEN,)),
    Question("window", "Where across depth does re-routing help? (window of ⌊0.1·L⌋ layers)", "layer_sweep",
             (SCREEN, "layers.start=range(0,28)")),
    Question("bias", "Prefix logit bias", "bias_sweep", (SCREEN,)),
    Question("auto", "Does layers=auto find the best window?", "layer_strategies", (SCREEN,)),
    Question("rope", "Prefix RoPE: keep the final token's rotation or re-rotate to position 0", "ablate_rope",
             (SCREEN,)),
    Question("baselines", "The baselines on the same pairs", "table1_offline", (SCREEN,)),
    Question("prompt_pooling", "Prompt template × pooling (re-routing on)", "ablate_prompt_pooling", (SCREEN,)),
    Question("gemma_components", "Gemma-3-270M: components", "ablate_components", (SCREEN, GEMMA), "gemma"),
    Question("gemma_window", "Gemma-3-270M: window position (⌊0.1·18⌋ = 1 layer)", "layer_sweep",
             (SCREEN, GEMMA, "layers.start=range(0,18,3)"), "gemma"),
    Question("bias_window", "Prefix logit bias at the early window (layers [0.1, 0.2) of depth)", "bias_sweep_window",
             (SCREEN,), "confirm"),
    Question("tuned_screen", "kvembed_tuned against the paper's kvembed and PromptEOL on the screening pairs",
             "ablation_confirm", (SCREEN,), "confirm", refs=("kvembed", "prompteol")),
    Question("confirm", "Confirmation on the full offline benchmark (full STS-B test split + proxies)",
             "ablation_confirm", (), "confirm", holdout=True, refs=("kvembed", "kvembed_no_reroute", "prompteol")),
    Question("confirm_window", "Confirmation: the screen's best window (layers 3–5) on the full offline benchmark",
             "ablation_confirm_window", (), "confirm", holdout=True),
]

STAGES: dict[str, list[tuple[str, list[str]]]] = {}
for _q in QUESTIONS:
    STAGES.setdefault(_q.stage, []).append((_q.experiment, list(_q.overrides)))


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


def question_table(q: Question, results_dir: Path) -> pd.DataFrame:
    """One row per finished (variant, task): score with CI, and paired differences against the paper's
    kvembed and against the same prompt without re-routing (where both have per-item scores)."""
    scores = experiment_scores(q.experiment, q.overrides, results_dir)
    if scores.empty:
        return scores
    fixed = tuple(o for o in q.overrides if not is_sweep(o))
    references = {(m, task): _reference(fixed, m, results_dir, task)
                  for m in q.refs for task in scores["task_name"].unique()}
    rows = []
    for _, r in scores.iterrows():
        row = {"variant": r["label"], "task": r["task_name"], "layers": r["layers"], "score": r["main_score"]}
        if not isinstance(r["items"], str):
            rows.append(row)
            continue
        refs = {ref_column(m): references[(m, r["task_name"])] for m in q.refs}
        subsets = [(r["task_name"], None)]
        if q.holdout and r["task_name"] == "STSBenchmark":
            subsets.append(("STSBenchmark, {n} pairs not in the screening sample", _unscreened))
        for task, select in subsets:
            items = _items(r["items"])
            keep = select(len(items)) if select else slice(None)
            items = items.iloc[keep].reset_index(drop=True)
            score, lo, hi = bootstrap_ci(items, N_BOOT)
            out = dict(row, task=task.format(n=len(items)), score=score, ci_low=lo, ci_high=hi, n_items=len(items))
            for name, ref in refs.items():
                if ref is not None and isinstance(ref["items"], str):
                    base = _items(ref["items"]).iloc[keep].reset_index(drop=True)
                    d, dlo, dhi = paired_difference_ci(items, base, N_BOOT)
                    out.update({name: d, f"{name}_low": dlo, f"{name}_high": dhi})
            rows.append(out)
    return pd.DataFrame(rows)


def _unscreened(n: int) -> list[int]:
    """Positions of the STS-B test pairs that ``benchmark=offline_screen`` did not evaluate."""

    limit = experiment_jobs(None, [SCREEN])[0].config.benchmark.limit
    screened = set(sample_indices(n, limit))
    return [i for i in range(n) if i not in screened]


def _layers(value) -> str:
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
        line = {"variant": r["variant"], "task": r["task"], "layers": _layers(r["layers"])}
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
    held_out = table["task"].str.startswith("STSBenchmark, ")
    sts = table[held_out] if held_out.any() else table[table["task"] == "STSBenchmark"]
    if sts.empty:
        return "Not run yet."
    best = sts.loc[sts["score"].idxmax()]
    worst = sts.loc[sts["score"].idxmin()]
    where = f"on {sts['task'].iloc[0]}: " if held_out.any() else ""
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
    window = {q.key: q for q in QUESTIONS}["window"]
    auto = {q.key: q for q in QUESTIONS}["auto"]
    sweep = experiment_scores(window.experiment, window.overrides, results_dir)
    variants = experiment_scores(auto.experiment, auto.overrides, results_dir)
    if sweep.empty or variants.empty:
        return pd.DataFrame()
    sweep, variants = sweep[sweep["task_name"] == "STSBenchmark"], variants[variants["task_name"] == "STSBenchmark"]
    best = sweep.loc[sweep["main_score"].idxmax()]
    rows = []
    for _, v in variants.iterrows():
        if not (isinstance(v["items"], str) and isinstance(best["items"], str)):
            continue
        d, lo, hi = paired_difference_ci(_items(best["items"]), _items(v["items"]), N_BOOT)
        rows.append({"auto variant": v["label"], "chosen layers": _layers(v["layers"]),
                     "score ×100": round(100 * v["main_score"], 2),
                     "best swept window": _layers(best["layers"]), "best ×100": round(100 * best["main_score"], 2),
                     "gap (best − variant) [95% CI]": _fmt(d, lo, hi, signed=True)})
    return pd.DataFrame(rows)


def render(results_dir: Path | str = "results") -> Path:
    """Write results/ablation.md (and results/ablation.csv with every number) from whatever has run."""
    results_dir = Path(results_dir)
    parts = ["# Ablation study: which parts of KV-Embedding carry the gain (offline backbones)\n",
             "Regenerate: `make ablation` (runs what is missing, skips finished runs, re-renders this file).\n",
             "Scores are Spearman ×100 for STSBenchmark (mteb's task, cosine) and nDCG@10 ×100 for retrieval; "
             "intervals are 95% percentile bootstraps over the evaluation pairs/queries "
             f"({N_BOOT} resamples). Δ columns are *paired* bootstraps (both configurations scored on the same "
             "resampled pairs), so a Δ interval that excludes 0 is a real difference on this data: "
             "`Δ vs kvembed (paper)` against `method=kvembed` with every paper default, `Δ vs kvembed_no_reroute` "
             "against the same compression prompt and mean+last pooling without re-routing, both on the same "
             "backbone and benchmark. "
             "Screening stages use `benchmark=offline_screen` (a fixed sample of 600 STS-B test pairs, "
             "2 CPU cores' worth); the confirmation stage uses the full offline benchmark.\n"]
    every = []
    for q in QUESTIONS:
        table = question_table(q, results_dir)
        n_jobs = len(experiment_jobs(q.experiment, q.overrides, results_dir))
        n_done = table["variant"].nunique() if not table.empty else 0
        parts.append(f"\n## {q.title}\n\n`experiment={q.experiment}` " +
                     " ".join(f"`{o}`" for o in q.overrides) + f" — {n_done} of {n_jobs} jobs run\n")
        if table.empty:
            parts.append("\nNot run yet.\n")
            continue
        parts.append("\n" + _markdown(table, q.refs) + "\n")
        parts.append(f"\n**Conclusion.** {conclusion(q, table)}\n")
        if q.key == "auto":
            gap = auto_gap(results_dir)
            if not gap.empty:
                parts.append("\nEach `auto` variant against the best window of the layer sweep (STSBenchmark):\n\n"
                             + gap.to_markdown(index=False) + "\n")
        every.append(table.assign(question=q.key))
    out = results_dir / "ablation.md"
    out.write_text("".join(parts))
    if every:
        pd.concat(every, ignore_index=True).to_csv(results_dir / "ablation.csv", index=False)
    return out
