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
# # (d) Pooling and prompt ablations, and (f) embedding geometry per method
#
# Prompt template × pooling with re-routing on, the component ablations, and the geometry of each
# method's embeddings on the same STS-B pairs: alignment of pairs scored ≥ 4 and uniformity (Wang &
# Isola 2020; lower is better for both), isotropy (Mu & Viswanath 2018; 1 = isotropic). Data: `make ablation`.

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from kvembed.report import figure_data

RESULTS, FIGURES = figure_data.folders()

# %%
grid = figure_data.require(figure_data.question("prompt_pooling", RESULTS), "run `make ablation`")
components = figure_data.require(figure_data.question("components", RESULTS), "run `make ablation`")
grid = grid[grid["task"] == "STSBenchmark"].copy()
# the prompt and pooling each run set, from its settings
grid["prompt"], grid["pooling"] = grid["settings"].str["prompt"], grid["settings"].str["pooling"]
prompts = sorted(set(grid["prompt"]))
poolings = sorted(set(grid["pooling"]))
fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 2]})
width = 0.8 / len(poolings)
for i, pooling in enumerate(poolings):
    t = grid[grid["pooling"] == pooling].set_index("prompt").reindex(prompts)
    x = np.arange(len(prompts)) + (i - (len(poolings) - 1) / 2) * width
    ax.bar(x, 100 * t["score"], width, yerr=figure_data.yerr(t), capsize=2, label=f"pooling={pooling}")
ax.set_xticks(np.arange(len(prompts)), prompts)
ax.set_xlabel("prompt template (re-routing on, layers=auto)")
ax.set_ylabel(f"STSBenchmark Spearman ×100 ({figure_data.split_label(grid)})")
ax.set_title("Prompt × pooling")
ax.legend(fontsize=8)
ax.grid(axis="y", alpha=0.3)

c = components[components["task"] == "STSBenchmark"].copy()
c["name"] = c["method"]
bx.barh(c["name"], 100 * c["score"], xerr=figure_data.yerr(c), capsize=2, color="tab:purple")
bx.set_xlabel(f"STSBenchmark Spearman ×100 ({figure_data.split_label(c)})")
bx.set_title("Components")
bx.grid(axis="x", alpha=0.3)
figure_data.save(fig, FIGURES / "d_prompt_pooling_components.png",
                 title="Which parts of KV-Embedding carry the score (SmolLM2-135M)")

# %%
geo = figure_data.require(figure_data.geometry(RESULTS), "run `make ablation`")
fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5))
points = ax.scatter(geo["uniformity"], geo["alignment"], c=100 * geo["main_score"], cmap="viridis", s=60)
# Similar methods land on top of each other: move a label up until it clears the ones already placed
# (positions in axes fractions; a 7-pt label is ~10 pt high and ~4.3 pt wide per character).
ax.margins(x=0.12, y=0.12)
axes_w = ax.get_position().width * fig.get_figwidth() * 72
axes_h = ax.get_position().height * fig.get_figheight() * 72
char_w, line_h = 4.3 / axes_w, 10 / axes_h
lo_x, hi_x = ax.get_xlim()
lo_y, hi_y = ax.get_ylim()
boxes: list[tuple[float, float, float, float]] = []
for _, r in geo.sort_values("alignment").iterrows():
    x, y = (r["uniformity"] - lo_x) / (hi_x - lo_x), (r["alignment"] - lo_y) / (hi_y - lo_y)
    width, right_half = char_w * len(r["method"]), x > 0.5
    x0 = x - 0.02 - width if right_half else x + 0.02
    ty = y + 0.01
    while any(x0 < bx1 and x0 + width > bx0 and ty < by1 and ty + line_h > by0 for bx0, bx1, by0, by1 in boxes):
        ty += line_h
    boxes.append((x0, x0 + width, ty, ty + line_h))
    ax.annotate(r["method"], (r["uniformity"], r["alignment"]), xytext=(x0, ty), textcoords="axes fraction",
                fontsize=7, arrowprops=dict(arrowstyle="-", lw=0.4, color="grey") if ty - y > 0.04 else None)
fig.colorbar(points, ax=ax, label="STSBenchmark Spearman ×100")
ax.set_xlabel("uniformity (lower = more uniform)")
ax.set_ylabel("alignment of positive pairs (lower = closer)")
ax.set_title("Alignment vs uniformity")
ax.grid(alpha=0.3)
order = geo.sort_values("isotropy")
bx.barh(order["method"], order["isotropy"], color="tab:orange")
bx.set_xscale("log")
bx.set_xlabel("isotropy I(W) (log scale; 1 = isotropic)")
bx.set_title("Isotropy")
bx.grid(axis="x", alpha=0.3)
figure_data.save(fig, FIGURES / "f_geometry.png",
                 title=f"Embedding geometry per method (SmolLM2-135M, {figure_data.split_label(geo)})")
