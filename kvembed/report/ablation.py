"""The ablation study's report: which parts of KV-Embedding carry the gain.

The questions and the settings chosen on dev are the study's (``kvembed.store.study``); ``render``
reads each question's finished runs by their columns (``kvembed.store.results.finished``) and writes
``results/ablation.md``: every score with a percentile-bootstrap 95% interval over the evaluation
pairs/queries, every difference with a *paired* bootstrap interval (the same resampled pairs for
both configurations), and a one-line conclusion per question computed from those numbers.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from ..eval.item_scores import bootstrap_ci, paired_difference_ci
from ..store.results import Selection, finished
from ..store.study import BY_KEY, DEV, QUESTIONS, TEST, Choice, Question, select_on_dev
from .intervals import N_BOOT, category_ci
from .tables import provenance, worst


def ref_column(method: str) -> str:
    """The table column holding the paired difference against ``method``."""
    return {"kvembed": "vs_kvembed", "kvembed_no_reroute": "vs_no_reroute"}.get(method, f"vs_{method}")


@cache
def _items(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def _fmt(x: float, lo: float, hi: float, signed: bool = False) -> str:
    f = "{:+.2f}" if signed else "{:.2f}"
    return f"{f.format(100 * x)} [{f.format(100 * lo)}, {f.format(100 * hi)}]"


def answers(q: Question, runs: pd.DataFrame, chosen: dict[str, Choice]) -> pd.DataFrame:
    """The finished runs that answer ``q`` (one row per run × task), each with its variant ``label``; empty
    when the question needs a choice not made yet."""
    selection = q.selection(chosen)
    if selection is None or runs.empty:
        return pd.DataFrame()
    scores = selection.select(runs)
    if scores.empty:
        return scores
    rows = [r for _, r in scores.iterrows()]
    scores = scores.assign(label=[q.label(r) for r in rows], _order=[_order(q, r) for r in rows])
    return scores.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)


def _order(q: Question, row: pd.Series) -> tuple:
    """Variants in the question's method order, then by the values of the settings it varies (numbers as
    numbers, unset first; a group such as ``layers`` by its fields); tasks alphabetically within a variant."""
    def key(value: Any) -> tuple:
        if value is None:
            return (0, 0.0, "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (1, float(value), "")
        return (2, 0.0, str(value))

    given = row["settings"]
    values = tuple(key(given.get(name) if "." in name or name in given else
                       str(sorted((k, v) for k, v in given.items() if k.startswith(name + "."))))
                   for name in q.settings)
    method = q.methods.index(row["method"]) if row["method"] in q.methods else len(q.methods)
    return (method, values, row["task_name"])


def _references(q: Question, runs: pd.DataFrame) -> dict[tuple[str, str], pd.Series]:
    """(method, task) → the run of each of ``q.refs`` as stated (no setting changed) in the question's context."""
    out = {}
    for method in q.refs:
        for _, r in Selection(q.where, (method,)).select(runs).iterrows():
            out.setdefault((method, r["task_name"]), r)
    return out


def question_table(q: Question, runs: pd.DataFrame, chosen: dict[str, Choice] | None = None) -> pd.DataFrame:
    """One row per finished (variant, task): score with CI, and paired differences against the reference
    methods (``q.refs``) run in the same context, where both have per-item scores."""
    chosen = select_on_dev(runs) if chosen is None else chosen
    scores = answers(q, runs, chosen)
    if scores.empty:
        return scores
    references = _references(q, runs)
    given = q.given(chosen)  # a question without a sweep has one variant: name it by what it was given
    codes = provenance(scores)
    rows = []
    for i, r in scores.iterrows():
        label = given if r["label"] == "default" else r["label"]
        row = {"variant": label, "task": r["task_name"], "split": r["split"], "method": r["method"],
               "layers": r["layers"], "bias": r["bias"], "settings": r["settings"], "score": r["main_score"],
               "code": codes[i]}
        if not isinstance(r["items"], str):
            rows.append(row)
            continue
        items = _items(r["items"])
        score, lo, hi = bootstrap_ci(items, N_BOOT)
        out = dict(row, score=score, ci_low=lo, ci_high=hi, n_items=len(items))
        for m in q.refs:
            ref = references.get((m, r["task_name"]))
            if ref is not None and isinstance(ref["items"], str):
                d, dlo, dhi = paired_difference_ci(items, _items(ref["items"]), N_BOOT)
                name = ref_column(m)
                out.update({name: d, f"{name}_low": dlo, f"{name}_high": dhi})
        rows.append(out)
    return pd.DataFrame(rows)


def category_table(q: Question, runs: pd.DataFrame, chosen: dict[str, Choice] | None = None) -> pd.DataFrame:
    """One row per variant that ran every task of the question: the mean over tasks with its CI, and the
    paired difference of that mean against each reference method (same tasks, same resampled pairs)."""
    chosen = select_on_dev(runs) if chosen is None else chosen
    scores = answers(q, runs, chosen)
    if not scores.empty:  # the real STS category: the tasks scored pair by pair
        scores = scores[(scores["task_type"] == "STS") & ~scores["is_proxy"]]
    if scores.empty or not scores["items"].map(lambda x: isinstance(x, str)).all():
        return pd.DataFrame()
    tasks = sorted(scores["task_name"].unique())
    given = q.given(chosen)
    rows, references = [], _references(q, runs)
    codes = provenance(scores)
    for label, variant in scores.assign(row_index=scores.index).groupby("label", sort=False):
        variant = variant.set_index("task_name")
        if sorted(variant.index) != tasks:
            continue
        items = [_items(variant.loc[t, "items"]) for t in tasks]
        score, lo, hi = category_ci(items)
        row = {"variant": given if label == "default" else label, "tasks": len(tasks),
               "pairs": sum(len(i) for i in items), "score": score, "ci_low": lo, "ci_high": hi,
               "code": worst(codes[variant["row_index"]])}
        for m in q.refs:
            refs = [references.get((m, t)) for t in tasks]
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
        line["code"] = r["code"]
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
        line["code"] = r["code"]
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
        return _per_task_conclusion(table)
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


def _per_task_conclusion(table: pd.DataFrame) -> str:
    """Best and worst per task, and KV-Embedding against the same prompt without re-routing, with intervals
    where the task has per-item scores and saying so where it has none."""
    parts = []
    for task, rows in table.groupby("task", sort=True):
        best, worst = rows.loc[rows["score"].idxmax()], rows.loc[rows["score"].idxmin()]
        text = (f"{task}: best {best['variant']} ({100 * best['score']:.2f}), worst {worst['variant']} "
                f"({100 * worst['score']:.2f})")
        by_variant = rows.set_index("variant")["score"]
        if {"method=kvembed", "method=kvembed_no_reroute"} <= set(by_variant.index):
            delta = 100 * (by_variant["method=kvembed"] - by_variant["method=kvembed_no_reroute"])
            text += f", kvembed − kvembed_no_reroute {delta:+.2f}"
        if rows["ci_low"].isna().all() if "ci_low" in rows else True:
            text += " (no per-item scores for this task type: no intervals)"
        parts.append(text)
    return "; ".join(parts) + "."


def auto_gap(runs: pd.DataFrame) -> pd.DataFrame:
    """Each layers=auto variant's choice against the best window of the sweep (paired difference)."""
    sweep, variants = answers(BY_KEY["window"], runs, {}), answers(BY_KEY["auto"], runs, {})
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


def _limit_note(runs: pd.DataFrame) -> str:
    dev = Selection(BY_KEY["components"].where).select(runs)
    limits = sorted({int(v) for v in dev["limit"].dropna()}) if len(dev) else []
    pairs = (f"a fixed random sample of {', '.join(map(str, limits))} of its 1,500 pairs" if limits else
             "all 1,500 pairs")
    return (f"**Splits.** Every choice is made on the STS-B *dev* split (mteb's `validation`; `{' '.join(DEV)}`: "
            f"{pairs}) and confirmed on the *test* split (`{' '.join(TEST)}`: the full 1,379-pair STS-B test split "
            "and the six "
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
    runs = finished(results_dir)
    chosen = select_on_dev(runs)
    parts = ["# Ablation study: which parts of KV-Embedding carry the gain (offline backbones)\n\n",
             "Regenerate: `make ablation` (runs what is missing, skips finished runs, re-renders this file).\n\n",
             _limit_note(runs), "\n",
             "Scores are Spearman ×100 for STSBenchmark (mteb's task, cosine) and nDCG@10 ×100 for retrieval; "
             "intervals are 95% percentile bootstraps over the evaluation pairs/queries "
             f"({N_BOOT} resamples). Δ columns are *paired* bootstraps (both configurations scored on the same "
             "resampled pairs), so a Δ interval that excludes 0 is a real difference on this data: "
             "`Δ vs kvembed (paper)` against `method=kvembed` with every paper default, `Δ vs kvembed_no_reroute` "
             "against the same compression prompt and mean+last pooling without re-routing, both on the same "
             "backbone, benchmark and split. SmolLM2-135M is the Q4_1 GGUF dequantised to fp32. `code`: "
             "`current` = from a clean commit whose code computes what this checkout's computes (the row's "
             "fingerprint); `older code` = code that computed something else; `dirty` = uncommitted code.\n",
             "\n## Chosen on the dev split\n", choices_table(chosen)]
    every = []
    for q in QUESTIONS:
        overrides = q.resolve(chosen)
        table = question_table(q, runs, chosen)
        shown = overrides if overrides is not None else (*q.context, *q.overrides, *(f"<{n} chosen on dev>"
                                                                                   for n in q.needs))
        n_done = table["variant"].nunique() if not table.empty else 0
        parts.append(f"\n## {q.title}\n\n`experiment={q.experiment}` " +
                     " ".join(f"`{o}`" for o in shown) + f" — {n_done} variant{'s' * (n_done != 1)} run\n")
        if table.empty:
            parts.append("\nNot run yet.\n")
            continue
        parts.append("\n" + _markdown(table, q.refs) + "\n")
        parts.append(f"\n**Conclusion.** {conclusion(q, table)}\n")
        if q.on_real_sts_category:
            category = category_table(q, runs, chosen)
            if not category.empty:
                parts.append("\nThe category (mean Spearman of its tasks; the paired Δ resamples every task's pairs "
                             "at once):\n\n" + _category_markdown(category, q.refs) + "\n")
        if q.key == "auto":
            gap = auto_gap(runs)
            if not gap.empty:
                parts.append("\nEach `auto` variant against the best window of the layer sweep (STSBenchmark, dev):\n\n"
                             + gap.to_markdown(index=False) + "\n")
        every.append(table.assign(question=q.key))
    out = results_dir / "ablation.md"
    out.write_text("".join(parts))
    if every:
        pd.concat(every, ignore_index=True).to_csv(results_dir / "ablation.csv", index=False)
    return out
