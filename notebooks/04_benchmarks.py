# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # (e) LoCoV1 nDCG@10 against max length, and (g) Table 1 as a figure
#
# Offline, LoCoV1 runs on its fixture (`benchmark=locov1_fixture`: a pipeline check in LoCoV1's layout,
# not LoCoV1 scores) unless the real data has been prefetched; Table 1 is `results/table1.csv`
# (`make reproduce-table1`), our numbers next to the paper's where we know them.

# %%
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kvembed.report import figure_data

RESULTS, FIGURES = figure_data.folders()

# %%
loco = figure_data.require(figure_data.locov1_by_length(RESULTS),
                           "run `make figures` (experiment=locov1_length_offline)")
fig, ax = plt.subplots(figsize=(6.5, 4))
for method, g in loco.groupby("method"):
    ax.plot(g["max_length"], 100 * g["ndcg_at_10"], marker="o", label=method)
ax.set_xscale("log", base=2)
ax.set_xticks(sorted(loco["max_length"].unique()), [str(x) for x in sorted(loco["max_length"].unique())])
ax.set_xlabel("max input length (tokens)")
ax.set_ylabel("mean nDCG@10 ×100 over LoCoV1 tasks")
ax.set_title("LoCoV1 (offline fixture) vs input length, SmolLM2-135M")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
figure_data.save(fig, FIGURES / "e_locov1_length.png")

# %%
t1 = figure_data.require(figure_data.table1(RESULTS), "run `make reproduce-table1`")
# one column per category and data kind, named "<category> (real|proxy, <tasks>)" (kvembed.report.tables)
categories = [c for c in t1.columns if re.fullmatch(r"\w+ \((real|proxy), \d+\)", c)] + ["Avg."]
t1["group"] = t1["backbone"] + (" — " + t1["benchmark"] if "benchmark" in t1 else "")
# Table 1 proper spans several task categories; single-category runs (the ablation's screening sample)
# are the ablation figures' business, so they are drawn only when nothing else has run.
spans = {group: int(g[categories[:-1]].notna().any().sum()) for group, g in t1.groupby("group")}
groups = [group for group, n in spans.items() if n >= 2] or list(spans)
fig, axes = plt.subplots(len(groups), 1, figsize=(11, 4.8 * len(groups)), squeeze=False)
for ax, group in zip(axes[:, 0], groups):
    g = t1[t1["group"] == group].sort_values("Avg.", ascending=False).set_index("method")
    cats = [c for c in categories if g[c].notna().any()]
    width = 0.8 / len(g)
    for i, (method, r) in enumerate(g.iterrows()):
        x = np.arange(len(cats)) + (i - (len(g) - 1) / 2) * width
        ax.bar(x, r[cats].astype(float), width, label=method)
    if "paper Avg." in g:
        for method, value in g["paper Avg."].dropna().items():
            ax.scatter([len(cats) - 1], [value], marker="*", s=150, color="black", zorder=3,
                       label=f"paper: {method}")
    ax.set_xticks(np.arange(len(cats)), cats, rotation=20, ha="right")
    if any("(proxy" in c for c in cats):
        ax.set_xlabel("proxy: an offline task built from STS-B text, not an MTEB score; real: mteb's task on its rows")
    ax.set_ylabel("main score ×100")
    ax.set_title(group)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), title="method (by Avg.)")
figure_data.save(fig, FIGURES / "g_table1.png", "Table 1 (ours; the paper's average where known)")
