"""The data behind each figure, read from results/ only (the notebooks in notebooks/ just plot these).

Every function takes ``results_dir`` and returns a tidy DataFrame (empty when the experiment has not run),
so a figure never recomputes embeddings and never drifts from the numbers in the tables.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..store.results import Selection, finished
from ..store.study import BY_KEY as QUESTIONS
from . import ablation


def folders() -> tuple[Path, Path]:
    """(results, figures): ``$KVEMBED_RESULTS`` (default ``results``) and ``$KVEMBED_FIGURES`` (default
    ``<results>/figures``, created)."""
    results = Path(os.environ.get("KVEMBED_RESULTS", "results"))
    figures = Path(os.environ.get("KVEMBED_FIGURES", results / "figures"))
    figures.mkdir(parents=True, exist_ok=True)
    return results, figures


def save(fig, path: Path, title: str | None = None) -> Path:
    """Give a matplotlib figure its title, lay it out and write it as a PNG (one look for every figure)."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def require(df: pd.DataFrame, hint: str) -> pd.DataFrame:
    """``df``, or stop the notebook with what to run to produce it."""
    if df.empty:
        raise SystemExit(f"No results for this figure yet: {hint}")
    return df


def yerr(table: pd.DataFrame, scale: float = 100.0) -> list:
    """Asymmetric error bars from ``score``/``ci_low``/``ci_high`` columns, for matplotlib."""
    return [scale * (table["score"] - table["ci_low"]), scale * (table["ci_high"] - table["score"])]


def _values(value) -> list:
    """A list column's cell as a list (empty for a missing one)."""
    return [] if value is None or (isinstance(value, float) and pd.isna(value)) else list(value)


def question(key: str, results_dir: Path | str = "results") -> pd.DataFrame:
    """An ablation question's table (scores, 95% CIs, paired differences): see kvembed.report.ablation."""
    return ablation.question_table(QUESTIONS[key], finished(results_dir))


def layers_label(table: pd.DataFrame) -> str:
    """The re-routed layers of a question's rows, as the tables print them ('27–29'), from the data."""
    return ", ".join(sorted({ablation.layer_runs(_values(v)) for v in table["layers"]}))


def split_label(table: pd.DataFrame) -> str:
    """Where a figure's numbers come from, e.g. 'STS-B dev, 600 pairs' (read from the rows, never assumed)."""
    splits = sorted({ablation.split_name(s) for s in table["split"]}) if "split" in table else []
    pairs = sorted({int(n) for n in table["n_items"].dropna()}) if "n_items" in table else []
    return f"STS-B {', '.join(splits)}" + (f", {', '.join(map(str, pairs))} pairs" if pairs else "")


def id_curves(results_dir: Path | str = "results") -> pd.DataFrame:
    """Per-layer intrinsic dimension (the curve ``layers=auto`` minimised) and the window it chose.

    One row per (backbone, auto variant, layer): ``id`` = TwoNN ID of the states entering the layer,
    ``selected`` = whether the variant re-routes that layer. Variants come from the layer-strategy
    experiment (SmolLM2) and the paper default on every backbone of the study."""
    rows, seen, runs = [], set(), finished(results_dir)
    for q in (QUESTIONS["auto"], QUESTIONS["components"], QUESTIONS["gemma_components"]):
        for _, r in ablation.answers(q, runs, {}).iterrows():
            curve = _values(r["id_curve"])
            label = r["label"].replace("layers=", "").replace("method=", "")
            if not curve or r["layer_strategy"] != "auto" or (label in ("kvembed_two_pass", "kvembed_bidirectional",
                                                                        "kvembed_no_prompt")):
                continue
            variant = "auto (paper rule)" if label in ("auto", "kvembed") else label
            key = (r["backbone"], variant)
            if key in seen:
                continue
            seen.add(key)
            chosen = set(_values(r["layers"]))
            rows += [{"backbone": r["backbone"], "variant": variant, "layer": i, "id": v, "selected": i in chosen}
                     for i, v in enumerate(curve)]
    return pd.DataFrame(rows)


def window_sweep(results_dir: Path | str = "results") -> pd.DataFrame:
    """Score against the first layer of the re-routed window, per backbone (with CIs and the no-re-routing
    reference as ``vs_no_reroute``)."""
    frames = []
    for key in ("window", "gemma_window"):
        t = question(key, results_dir)
        if t.empty:
            continue
        t = t[t["task"] == "STSBenchmark"].copy()
        t["start"] = t["layers"].map(lambda s: min(_values(s)))
        t["backbone"] = "gemma3-270m" if key.startswith("gemma") else "smollm2-135m"
        frames.append(t)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def geometry(results_dir: Path | str = "results") -> pd.DataFrame:
    """Embedding geometry of each method on the same STS-B pairs: alignment and uniformity (Wang & Isola
    2020), isotropy (Mu & Viswanath 2018), mean cosine, with the STS score."""
    frames, runs = [], finished(results_dir)
    for key in ("baselines", "components"):
        s = ablation.answers(QUESTIONS[key], runs, {})
        if not s.empty:
            frames.append(s[s["task_name"] == "STSBenchmark"])
    if not frames:
        return pd.DataFrame()
    s = pd.concat(frames, ignore_index=True).drop_duplicates("folder")
    cols = [c for c in s.columns if c.startswith("geometry_")]
    out = s[["method", "main_score", "split", *cols]].rename(columns={c: c.removeprefix("geometry_") for c in cols})
    return out.reset_index(drop=True)


def locov1_by_length(results_dir: Path | str = "results", benchmark: str = "locov1_fixture",
                     backbone: str = "smollm2-135m") -> pd.DataFrame:
    """Mean nDCG@10 over the LoCoV1 tasks per (method, max_length), of each method as stated."""
    s = Selection({"benchmark": benchmark, "backbone": backbone}).select(finished(results_dir))
    if s.empty:
        return s
    out = s.groupby(["method", "max_length"], as_index=False).agg(ndcg_at_10=("main_score", "mean"),
                                                                   n_tasks=("task_name", "nunique"))
    return out.sort_values(["method", "max_length"]).reset_index(drop=True)


def table1(results_dir: Path | str = "results") -> pd.DataFrame:
    """Table 1 as rendered by ``make reproduce-table1`` (results/table1.csv), ours next to the paper's."""
    path = Path(results_dir) / "table1.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()
