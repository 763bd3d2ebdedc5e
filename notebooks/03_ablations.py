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

from kvembed import figure_data

RESULTS, FIGURES = figure_data.folders()

# %%
grid = figure_data.require(figure_data.question("prompt_pooling", RESULTS), "run `make ablation`")
components = figure_data.require(figure_data.question("components", RESULTS), "run `make ablation`")
grid = grid[grid["task"] == "STSBenchmark"].copy()
grid[["prompt", "pooling"]] = grid["variant"].str.extract(r"prompt=(\w+), pooling=(\w+)")
prompts = list(dict.fromkeys(grid["prompt"]))
poolings = list(dict.fromkeys(grid["pooling"]))
fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [3, 2]})
width = 0.8 / len(poolings)
for i, pooling in enumerate(poolings):
    t = grid[grid["pooling"] == pooling].set_index("prompt").reindex(prompts)
    x = np.arange(len(prompts)) + (i - (len(poolings) - 1) / 2) * width
    ax.bar(x, 100 * t["score"], width, yerr=figure_data.yerr(t), capsize=2, label=f"pooling={pooling}")
ax.set_xticks(np.arange(len(prompts)), prompts)
ax.set_xlabel("prompt template (re-routing on, layers=auto)")
ax.set_ylabel("STSBenchmark Spearman ×100")
ax.set_title("Prompt × pooling")
ax.legend(fontsize=8)
ax.grid(axis="y", alpha=0.3)

c = components[components["task"] == "STSBenchmark"].copy()
c["name"] = c["variant"].str.removeprefix("method=")
bx.barh(c["name"], 100 * c["score"], xerr=figure_data.yerr(c), capsize=2, color="tab:purple")
bx.set_xlabel("STSBenchmark Spearman ×100")
bx.set_title("Components")
bx.grid(axis="x", alpha=0.3)
figure_data.save(fig, FIGURES / "d_prompt_pooling_components.png",
                 title="Which parts of KV-Embedding carry the score (SmolLM2-135M)")

# %%
geo = figure_data.require(figure_data.geometry(RESULTS), "run `make ablation`")
fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.5))
points = ax.scatter(geo["uniformity"], geo["alignment"], c=100 * geo["main_score"], cmap="viridis", s=60)
for _, r in geo.iterrows():
    ax.annotate(r["method"], (r["uniformity"], r["alignment"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
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
                 title="Embedding geometry per method (SmolLM2-135M, STS-B pairs)")
