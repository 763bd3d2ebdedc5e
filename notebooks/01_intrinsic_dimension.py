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

from kvembed.report import figure_data

RESULTS, FIGURES = figure_data.folders()

curves = figure_data.require(figure_data.id_curves(RESULTS), "run `make ablation`")
curves.groupby(["backbone", "variant"])["id"].agg(["min", "max", "idxmin"])

# %%
backbones = sorted(curves["backbone"].unique())
fig, axes = plt.subplots(1, len(backbones), figsize=(6 * len(backbones), 5.5), squeeze=False)
for ax, backbone in zip(axes[0], backbones):
    sub = curves[curves["backbone"] == backbone]
    # Variants that differ only in the window rule measure the same curve: draw it once, name them all.
    same_curve: dict[tuple, list] = {}
    for variant, g in sub.groupby("variant", sort=False):
        same_curve.setdefault(tuple(g["id"].round(4).fillna(-1)), []).append((variant, g))
    windows: dict[tuple, list] = {}
    for members in same_curve.values():
        g = members[0][1]
        line, = ax.plot(g["layer"], g["id"], marker="o", ms=3, label=" = ".join(v for v, _ in members))
        for variant, gv in members:
            chosen = gv.loc[gv["selected"], "layer"]
            if len(chosen):
                windows.setdefault((chosen.min(), chosen.max()), []).append((variant, line.get_color()))
    for (lo, hi), chosen_by in windows.items():
        ax.axvspan(lo - 0.5, hi + 0.5, color=chosen_by[0][1], alpha=0.15,
                   label=f"window {lo}–{hi}: " + ", ".join(v for v, _ in chosen_by))
    ax.set_title(backbone)
    ax.set_xlabel("layer (states entering it)")
    ax.set_ylabel("TwoNN intrinsic dimension")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16))
figure_data.save(fig, FIGURES / "a_intrinsic_dimension.png",
                 title="Intrinsic dimension per layer and the window layers=auto selects")
