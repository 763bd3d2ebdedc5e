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
# # (b) Layer sweep and (c) bias sweep
#
# STSBenchmark Spearman (×100) with 95% bootstrap intervals over the evaluated pairs, against the
# position of the re-routed window (⌊0.1·L⌋ consecutive layers) and against the prefix logit bias.
# The dashed line is the same prompt and pooling without re-routing. Data: `make ablation`.

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from kvembed.report import figure_data

RESULTS, FIGURES = figure_data.folders()


def baseline(ax, table):
    """Dashed line at the no-re-routing score implied by the paired differences."""
    ref = (table["score"] - table["vs_no_reroute"]).median()
    ax.axhline(100 * ref, color="grey", ls="--", label="no re-routing")


# %%
sweep = figure_data.require(figure_data.window_sweep(RESULTS), "run `make ablation`")
backbones = sorted(sweep["backbone"].unique())
fig, axes = plt.subplots(2, len(backbones), figsize=(6 * len(backbones), 7), squeeze=False, sharex="col")
for col, backbone in enumerate(backbones):
    t = sweep[sweep["backbone"] == backbone].sort_values("start")
    ax, dx = axes[0, col], axes[1, col]
    ax.errorbar(t["start"], 100 * t["score"], yerr=figure_data.yerr(t), marker="o", capsize=3,
                label="re-routed window starting here")
    baseline(ax, t)
    ax.set_title(backbone)
    ax.set_ylabel(f"STSBenchmark Spearman ×100 ({figure_data.split_label(t)})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    # paired differences are far tighter than the absolute intervals: the same pairs score both runs
    dx.errorbar(t["start"], 100 * t["vs_no_reroute"], marker="o", capsize=3, color="tab:green",
                yerr=[100 * (t["vs_no_reroute"] - t["vs_no_reroute_low"]),
                      100 * (t["vs_no_reroute_high"] - t["vs_no_reroute"])])
    dx.axhline(0, color="grey", ls="--")
    dx.set_xlabel("first layer of the re-routed window")
    dx.set_ylabel("Δ vs no re-routing (paired 95% CI)")
    dx.grid(alpha=0.3)
figure_data.save(fig, FIGURES / "b_layer_sweep.png", "Where across depth re-routing helps")

# %%
# each curve is labelled with the layers its runs re-routed, read from the results
curves = {"auto layers": figure_data.question("bias", RESULTS),
          "window chosen on dev": figure_data.question("bias_window", RESULTS)}
curves = {f"{k} ({figure_data.layers_label(v)})": v[v["task"] == "STSBenchmark"] for k, v in curves.items()
          if not v.empty}
figure_data.require(pd.concat(curves.values()) if curves else pd.DataFrame(), "run `make ablation`")
fig, (ax, dx) = plt.subplots(1, 2, figsize=(12, 4))
for label, t in curves.items():
    t = t.assign(bias=t["bias"].astype(float)).sort_values("bias")  # the bias each run used, from its rows
    ax.errorbar(t["bias"], 100 * t["score"], yerr=figure_data.yerr(t), marker="o", capsize=3, label=label)
    dx.errorbar(t["bias"], 100 * t["vs_no_reroute"], marker="o", capsize=3, label=label,
                yerr=[100 * (t["vs_no_reroute"] - t["vs_no_reroute_low"]),
                      100 * (t["vs_no_reroute_high"] - t["vs_no_reroute"])])
baseline(ax, next(iter(curves.values())))
dx.axhline(0, color="grey", ls="--")
ax.set_ylabel(f"STSBenchmark Spearman ×100 ({figure_data.split_label(next(iter(curves.values())))})")
dx.set_ylabel("Δ vs no re-routing (paired 95% CI)")
for a in (ax, dx):
    a.set_xlabel("prefix logit bias b")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
figure_data.save(fig, FIGURES / "c_bias_sweep.png", "Bias on the re-routed prefix (SmolLM2-135M)")
