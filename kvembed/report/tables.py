"""Tables from results/: Table 1 (backbone × method by MTEB category) with the paper's numbers beside ours."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..eval.item_scores import paired_difference_ci
from ..eval.tasks.local import KNOWN_DIFFERENCES
from ..store.fingerprint import is_current
from ..store.results import items_file, load_results
from .intervals import N_BOOT, category_ci

log = logging.getLogger(__name__)

CATEGORIES = ["Classification", "Clustering", "PairClassification", "Reranking", "Retrieval", "STS",
              "Summarization"]
# What we know of the paper's numbers (docs/method.md §5, secondary sources): MTEB average ×100.
PAPER_AVG = {("mistral-7b", "kvembed"): 53.41}
PAPER_LOCOV1 = {("mistral-7b", "kvembed", 4096): 20.68}
TABLE1_EXPERIMENTS = ("table1", "table1_offline", "table1_smoke")


def provenance(df: pd.DataFrame) -> pd.Series:
    """Per row: ``current`` (from a clean commit whose code computes what this code computes: the row's
    fingerprint), ``dirty`` (from uncommitted code) or ``older code`` (code that computed something else,
    or no fingerprint recorded)."""
    commits = df["git_commit"] if "git_commit" in df else pd.Series("", index=df.index)
    dirty = commits.astype(str).str.endswith("-dirty")
    older = ~is_current(df)
    return pd.Series("current", index=df.index).mask(older, "older code").mask(dirty, "dirty")


def worst(codes: pd.Series) -> str:
    """One status for rows shown together: ``current`` only when every row is."""
    for status in ("dirty", "older code"):
        if (codes == status).any():
            return status
    return "current"


def main_scores(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (run configuration, task): the main score ×100 (averaged over subsets) and where it
    comes from (``provenance``)."""
    main = df[df["is_main"]].assign(code=lambda d: provenance(d))
    main = main.assign(split=main["split"].replace({"validation": "dev"})) if "split" in main else main.assign(split="")
    keys = ["benchmark", "experiment", "backbone", "method", "config_hash", "overrides", "task_name", "task_type",
            "is_proxy", "split", "code"]
    extra = {c: "first" for c in ("limit", "result_file") if c in main}
    out = main.groupby(keys, dropna=False, as_index=False).agg(value=("value", "mean"),
                                                               **{c: (c, f) for c, f in extra.items()})
    out["score"] = out["value"] * 100
    return out.drop(columns="value")


def _as_stated(scores: pd.DataFrame) -> str | None:
    """Of one method's runs on one backbone and benchmark, the configuration that runs it as stated (no
    setting overridden) on the most tasks (on ties, the first by config hash); None if there is none."""
    default = scores[scores["overrides"] == "{}"]
    if default.empty:
        return None
    return default.groupby("config_hash")["task_name"].nunique().sort_values(ascending=False, kind="stable").index[0]


def table1_scores(df: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Main scores of the Table 1 runs of one benchmark: those of the Table 1 experiments, plus each
    method's default configuration where another experiment happened to run it first (results are keyed
    by configuration, so a run shared by two experiments carries the first one's name)."""
    scores = main_scores(df)
    scores = scores[scores["benchmark"] == benchmark]
    # a task evaluated on several splits (AmazonCounterfactual: validation and test) counts by its test split,
    # as MTEB reports it
    has_test = scores.groupby(["config_hash", "task_name"])["split"].transform(lambda s: (s == "test").any())
    scores = scores[~has_test | (scores["split"] == "test")]
    table = scores["experiment"].isin(TABLE1_EXPERIMENTS)
    if not table.any():
        return scores
    # a configuration's tasks may carry different experiment names (two drivers shared the job): by configuration
    configs = set(zip(scores.loc[table, "backbone"], scores.loc[table, "config_hash"]))
    chosen = scores[[k in configs for k in zip(scores["backbone"], scores["config_hash"])]]
    for (backbone, method), runs in scores[~table].groupby(["backbone", "method"]):
        if ((chosen["backbone"] == backbone) & (chosen["method"] == method)).any():
            continue
        key = _as_stated(runs)
        chosen = pd.concat([chosen, runs[runs["config_hash"] == key]])
    return chosen


def column_name(task_type: str, is_proxy: bool, n_tasks: int) -> str:
    """A Table 1 column: one MTEB category, real data or proxies, and how many tasks it averages."""
    return f"{task_type} ({'proxy' if is_proxy else 'real'}, {n_tasks})"


def columns(scores: pd.DataFrame) -> list[tuple[str, bool, str]]:
    """(category, is_proxy, column name) of a benchmark's columns, real before proxy within a category."""
    out = []
    for cat in CATEGORIES:
        for proxy in (False, True):
            tasks = scores.loc[(scores["task_type"] == cat) & (scores["is_proxy"].astype(bool) == proxy), "task_name"]
            if tasks.nunique():
                out.append((cat, proxy, column_name(cat, proxy, tasks.nunique())))
    return out


def column_ci(files: pd.Series, n_boot: int = N_BOOT) -> tuple[float, float] | None:
    """95% bootstrap interval of a column's mean over its tasks, resampling every task's items at once (None
    when some task of the column has no per-item scores, e.g. classification)."""
    paths = [items_file(f) for f in files]
    if not paths or not all(p.exists() for p in paths):
        return None
    _, lo, hi = category_ci([pd.read_parquet(p) for p in paths], n_boot=n_boot)
    return 100 * lo, 100 * hi


def table1(df: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    """Rows backbone × method; a column per category and data kind (``STS (real, 8)``, ``Classification
    (proxy, 1)``) with its task mean ×100 and, where every task has per-item scores, a 95% bootstrap interval
    (``<column> CI``); then the task average."""
    scores = table1_scores(df, benchmark)
    if scores.empty:
        return pd.DataFrame()
    cols = columns(scores)
    rows = []
    for (backbone, method, _), g in scores.groupby(["backbone", "method", "config_hash"]):
        # the experiment that ran it tells two configurations of one method apart (e.g. a dev-chosen window)
        row = {"backbone": backbone, "method": method, "experiment": ", ".join(sorted(set(g["experiment"])))}
        for cat, proxy, name in cols:
            part = g[(g["task_type"] == cat) & (g["is_proxy"].astype(bool) == proxy)]
            if len(part):
                row[name] = round(float(part["score"].mean()), 2)
                ci = column_ci(part["result_file"]) if "result_file" in part else None
                if ci is not None:
                    row[f"{name} CI"] = f"[{ci[0]:.2f}, {ci[1]:.2f}]"
        row["Avg."] = round(float(g["score"].mean()), 2)
        row["n_tasks"] = int(g["task_name"].nunique())
        limits = sorted({str(v) for v in g["limit"]}) if "limit" in g else []
        row["sample per task"] = ", ".join("all" if v in ("None", "nan") else v for v in limits)
        row["split"] = ", ".join(sorted(set(g["split"])))
        row["code"] = ", ".join(sorted(set(g["code"])))
        paper = PAPER_AVG.get((backbone, method))
        row["paper Avg."] = paper if paper is not None else float("nan")
        rows.append(row)
    out = pd.DataFrame(rows).sort_values(["backbone", "Avg."], ascending=[True, False])
    shown = [c for _, _, name in cols for c in (name, f"{name} CI") if c in out]
    order = ["backbone", "method", "experiment", *shown, "Avg.", "n_tasks", "sample per task", "split",
             "paper Avg.", "code"]
    return out[order].reset_index(drop=True)


def per_task(df: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    scores = table1_scores(df, benchmark)
    return scores.pivot_table(index=["backbone", "method"], columns="task_name", values="score").round(2)


def locov1_table(df: pd.DataFrame) -> pd.DataFrame:
    """nDCG@10 ×100 (mean over the LoCoV1 tasks) per backbone × method, one column per max_length."""
    rows = df[df["is_main"] & df["benchmark"].astype(str).str.startswith("locov1")]
    if rows.empty:
        return pd.DataFrame()
    keys = ["benchmark", "backbone", "method", "max_length", "task_name"]
    rows = rows.assign(code=provenance(rows))
    per_task = rows.groupby(keys, as_index=False)["value"].mean()
    by = ["benchmark", "backbone", "method", "max_length"]
    out = per_task.groupby(by)["value"].mean().mul(100).round(2)
    wide = out.unstack("max_length")
    wide.columns = [f"{c} tok" for c in wide.columns]
    paper = [PAPER_LOCOV1.get((b, m, 4096), float("nan")) for _, b, m in wide.index]
    code = rows.groupby(by[:3])["code"].agg(worst).reindex(wide.index)
    return wide.assign(**{"paper @4096": paper, "code": code}).reset_index()


def locov1_ci_table(df: pd.DataFrame, benchmark: str, reference: str = "kvembed_no_reroute") -> pd.DataFrame:
    """One LoCoV1 benchmark read from real files: nDCG@10 ×100 with its 95% bootstrap interval over queries per
    backbone × method and ``max_length``, and KV-Embedding's paired difference to ``reference`` (same queries)."""
    rows = df[df["is_main"] & (df["benchmark"] == benchmark)]
    if rows.empty:
        return pd.DataFrame()
    rows = rows.assign(code=provenance(rows))
    out: dict[tuple[str, str], dict[str, str]] = {}
    items: dict[tuple[str, str, int], pd.DataFrame] = {}
    for (backbone, method, length), g in rows.groupby(["backbone", "method", "max_length"]):
        path = items_file(g["result_file"].iloc[0])
        cell = f"{100 * g['value'].mean():.2f}"
        if len(g) == 1 and path.exists():
            own = items[(backbone, method, length)] = pd.read_parquet(path)
            _, lo, hi = category_ci([own])  # what column_ci computes, without reading the file again
            cell += f" [{100 * lo:.2f}, {100 * hi:.2f}]"
        row = out.setdefault((backbone, method), {"code": "current"})
        row[f"{length} tok"] = cell
        row["code"] = worst(pd.Series([row["code"], *g["code"]]))
    for (backbone, method, length), own in items.items():
        ref = items.get((backbone, reference, length))
        if method == "kvembed" and ref is not None:
            d, lo, hi = paired_difference_ci(own, ref)
            out.setdefault((backbone, f"kvembed − {reference}"), {})[f"{length} tok"] = (
                f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]")
    table = pd.DataFrame.from_dict(out, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["backbone", "method"])
    lengths = sorted((c for c in table.columns if c.endswith(" tok")), key=lambda c: int(c.split()[0]))
    return table[[*lengths, "code"]].fillna("").reset_index()


def _md(df: pd.DataFrame) -> str:
    return df.to_markdown(index=not isinstance(df.index, pd.RangeIndex), floatfmt=".2f")  # tabulate: the report extra


def render(results_dir: Path | str = "results") -> Path:
    """Write results/table1.md and results/table1.csv from every run on disk."""
    results_dir = Path(results_dir)
    df = load_results(results_dir)
    out_md = results_dir / "table1.md"
    parts = ["# Table 1 — KV-Embedding and training-free baselines\n",
             "Main scores ×100, averaged per MTEB task category; `Avg.` is the mean over tasks. `paper Avg.` is "
             "the paper's reported MTEB average where known (docs/method.md §5). `code`: `current` = from a clean "
             "commit whose code computes what this checkout's code computes (the rows' fingerprint, "
             "docs/development.md); `dirty` = from uncommitted code; `older code` = by code that computed "
             "something else (rerun to refresh). `split`: the data split every score of the "
             "row comes from (`test` for Table 1; `dev` = the STS-B dev split the ablation study chooses on). "
             "Regenerate with `kvembed results` "
             "(or `make results`).\n"]
    frames = []
    if df.empty:
        parts.append("\nNo results yet: run `make reproduce-table1` (or `PROFILE=offline`).\n")
    for bench in sorted(b for b in df["benchmark"].unique() if not str(b).startswith("locov1")) if not df.empty else []:
        t = table1(df, bench)
        if t.empty:
            continue
        rows = df[(df["benchmark"] == bench) & df["is_proxy"].astype(bool)]
        proxies = sorted(rows["task_type"].unique())
        parts.append(f"\n## benchmark = {bench}\n")
        sources = df.loc[df["benchmark"] == bench].drop_duplicates("task_name")
        if "data_source" in sources:
            where = sources.groupby("data_source")["task_name"].apply(lambda t: ", ".join(sorted(t)))
            parts.append("\nRows come from: " + "; ".join(f"{src}: {tasks}" for src, tasks in where.items()) + ".\n")
            local = set(sources.loc[sources["data_source"] == "local files", "task_name"])
            parts += [f"\n{task} from the original files: {KNOWN_DIFFERENCES[task]}.\n"
                      for task in sorted(local & set(KNOWN_DIFFERENCES))]
        if proxies:
            parts.append("\nColumns say `real` (mteb's own task and evaluator on the task's real rows) or `proxy` "
                         f"(offline stand-ins derived from STS-B text: {', '.join(proxies)}) **not MTEB scores**, so "
                         "`Avg.` is not comparable with the paper's MTEB average) and how many tasks they average. "
                         "`sample per task`: a fixed, seeded sample of that many items of each evaluated split "
                         "(`benchmark.limit=null` runs the full sets). `CI`: 95% bootstrap interval of the column's "
                         f"mean, resampling every task's pairs at once ({N_BOOT} resamples).\n")
        if "smollm2-135m" in set(t["backbone"]):
            parts.append("\nsmollm2-135m is SmolLM2-135M-Instruct from a 4-bit (Q4_1) GGUF, dequantised to fp32: "
                         "its scores are those of the quantised weights.\n")
        parts.append("\n" + _md(t) + "\n\nPer task:\n\n" + _md(per_task(df, bench)) + "\n")
        frames.append(t.assign(benchmark=bench))
    out_md.parent.mkdir(parents=True, exist_ok=True)
    out_md.write_text("".join(parts))
    loco = locov1_table(df) if not df.empty else pd.DataFrame()
    if not loco.empty:
        note = ("# LoCoV1 — nDCG@10 against maximum input length\n\nMean nDCG@10 ×100 over the LoCoV1 tasks per "
                "method and `max_length`; `paper @4096` is the paper's reported value where known (docs/method.md §5). "
                "`locov1_fixture` rows come from the small offline stand-in (a pipeline check on STS-B text, not "
                "LoCoV1 scores); `locov1_qmsum` rows are real long documents (below). Regenerate with "
                "`kvembed results`.\n\n")
        real = locov1_ci_table(df, "locov1_qmsum")
        if not real.empty:
            note_real = ("\n## Real long documents: LoCoV1's qmsum (benchmark = locov1_qmsum)\n\n"
                         f"LoCoV1.qmsum {KNOWN_DIFFERENCES['LoCoV1.qmsum']}. Every transcript is longer than "
                         "4,096 tokens, so each length truncates every document. nDCG@10 ×100 [95% bootstrap "
                         f"interval over the queries, {N_BOOT} resamples]; the `kvembed − kvembed_no_reroute` row "
                         "is the paired difference on the same queries (re-routing on vs off, same prompt). "
                         "Command: `python experiments/locov1_length.py --profile qmsum`.\n\n")
            loco_text = note + _md(loco) + "\n" + note_real + _md(real) + "\n"
        else:
            loco_text = note + _md(loco) + "\n"
        (results_dir / "locov1.md").write_text(loco_text)
    if frames:
        pd.concat(frames, ignore_index=True).to_csv(results_dir / "table1.csv", index=False)
    log.info("wrote %s", out_md)
    return out_md


def main(results_dir: Path | str = "results") -> None:
    path = render(results_dir)
    print(path.read_text())
