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
# # (a) Intrinsic dimension across depth, and the window `layers=auto` picks
#
# TwoNN intrinsic dimension of the hidden states entering each layer (1,000 STS-B train sentences inside
# the compression prompt), per backbone and per `auto` variant; the re-routed window is shaded.
# Data: the `layers=auto` runs of the ablation study (`make ablation`), read from `results/`.

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from kvembed import figure_data

RESULTS, FIGURES = figure_data.folders()

curves = figure_data.require(figure_data.id_curves(RESULTS), "run `make ablation`")
curves.groupby(["backbone", "variant"])["id"].agg(["min", "max", "idxmin"])

# %%
backbones = sorted(curves["backbone"].unique())
fig, axes = plt.subplots(1, len(backbones), figsize=(6 * len(backbones), 4), squeeze=False)
for ax, backbone in zip(axes[0], backbones):
    sub = curves[curves["backbone"] == backbone]
    for variant, g in sub.groupby("variant", sort=False):
        line, = ax.plot(g["layer"], g["id"], marker="o", ms=3, label=variant)
        chosen = g.loc[g["selected"], "layer"]
        if len(chosen) and variant == "auto (paper rule)":
            ax.axvspan(chosen.min() - 0.5, chosen.max() + 0.5, color=line.get_color(), alpha=0.15,
                       label=f"re-routed window {chosen.min()}–{chosen.max()}")
    ax.set_title(backbone)
    ax.set_xlabel("layer (states entering it)")
    ax.set_ylabel("TwoNN intrinsic dimension")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
figure_data.save(fig, FIGURES / "a_intrinsic_dimension.png",
                 title="Intrinsic dimension per layer and the window layers=auto selects")
