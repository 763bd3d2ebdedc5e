"""Do the baselines' inferred per-backbone settings hold up? Checked on the STS-B **dev** split only.

    python scripts/baseline_dev_check.py --model smollm2-135m
    python scripts/baseline_dev_check.py --model qwen2.5-coder-0.5b --limit 200 --no-sweep

Token Prepending and Contrastive Prompting have no official entry for these backbones, and Echo's zero-shot
prompt leaves the separator between its two parts open. On the dev pairs the ablation study chooses on (a
fixed, seeded sample of ``--limit`` of the 1,500; the test split is never read) this scores:

* each named rule (``kvembed.methods.base.BASELINE_RULES``): ``authors`` (the default: hidden_states[-2]),
  ``depth_scaled`` (Llama-2-7B's entry scaled to the depth) and TP's ``script_default``;
* unless ``--no-sweep``: CP's intervention layer and TP's last layer swept around the inferred value at the
  default output layer, to see whether the inferred (scaled) value is near the best one;
* Echo's rewrite prompt with ``. `` and with a newline between its parts, and the fine-tuned templates.

Spearman ×100 with a bootstrap 95% CI (pairs resampled), and each variant's paired difference to the
default. Writes ``results/baseline_dev_<model>.md`` (or ``--out``) with the commit it ran at.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from kvembed import Encoder
from kvembed.backbones import load_backbone
from kvembed.data.stsb import load_stsb
from kvembed.eval.item_scores import bootstrap_ci, paired_difference_ci
from kvembed.eval.sts import cosine_rows
from kvembed.eval.tasks.offline import _head
from kvembed.methods import PROMPTS, MethodSpec, get_method
from kvembed.provenance import git_commit

ROOT = Path(__file__).resolve().parent.parent


def variants(num_layers: int, sweep: bool) -> list[tuple[str, str, MethodSpec]]:
    """(group, label, method) of every variant scored; the first of each group is the default."""
    out: list[tuple[str, str, MethodSpec]] = []
    echo = get_method("echo")
    out += [("Echo", "echo (rewrite, newline)", echo),
            ("Echo", "echo (rewrite, '. ')", replace(echo, prompt=PROMPTS["echo_period"])),
            ("Echo", "echo_finetuned", get_method("echo_finetuned"))]
    cp, tp = get_method("cp"), get_method("token_prepending")
    out += [("Contrastive Prompting", "cp (authors: output -2)", cp),
            ("Contrastive Prompting", "cp_depth_scaled", get_method("cp_depth_scaled"))]
    out += [("Token Prepending", "token_prepending (authors: output -2)", tp),
            ("Token Prepending", "token_prepending_depth_scaled", get_method("token_prepending_depth_scaled")),
            ("Token Prepending", "token_prepending_script_default", get_method("token_prepending_script_default"))]
    if sweep:
        for layer in sorted({1, 2, 3, 4, 6, num_layers // 4, num_layers // 3, num_layers // 2}):
            out.append(("CP intervention layer (output -2)", f"layer {layer}",
                        replace(cp, contrastive=replace(cp.contrastive, layer=layer))))
        for stop in sorted({2, 3, 4, 6, 8, num_layers // 3, num_layers // 2}):
            out.append(("TP layers [1, stop) (output -2)", f"stop {stop}",
                        replace(tp, token_prepending=replace(tp.token_prepending, stop=stop))))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--limit", type=int, default=400, help="dev pairs (the ablation's offline_dev sample)")
    ap.add_argument("--no-sweep", action="store_true", help="the named rules and Echo's templates only")
    ap.add_argument("--out", type=Path, default=None, help="default: results/baseline_dev_<model>.md")
    args = ap.parse_args()
    torch.manual_seed(0)
    pairs = _head(list(load_stsb("dev")), args.limit)
    backbone = load_backbone(args.model)
    rows, items = [], {}
    for group, label, method in variants(backbone.num_layers, not args.no_sweep):
        start = time.perf_counter()
        enc = Encoder(backbone, method)
        texts = list(dict.fromkeys([p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]))
        emb = enc.encode(texts, prompt_type=method.symmetric_role)  # as evaluate_sts and the mteb adapter do
        row = {t: i for i, t in enumerate(texts)}
        cos = cosine_rows(emb[[row[p.sentence1] for p in pairs]], emb[[row[p.sentence2] for p in pairs]])
        items[label] = pd.DataFrame({"item": range(len(pairs)), "prediction": cos, "gold": [p.score for p in pairs]})
        score = bootstrap_ci(items[label])[0]
        d = enc.describe()
        rows.append({"group": group, "variant": label, "spearman": 100 * score, "output_layer": d["output_layer"],
                     "tp_layers": d["tp_layers"], "cp_layer": d["cp_layer"], "seconds": time.perf_counter() - start})
        print(f"{group:38s} {label:42s} {score:6.4f}", flush=True)
    table = pd.DataFrame(rows)
    ci, diff = [], []
    defaults = table.groupby("group", sort=False)["variant"].first()
    default_of = {"CP intervention layer (output -2)": "cp (authors: output -2)",
                  "TP layers [1, stop) (output -2)": "token_prepending (authors: output -2)"}
    for r in table.itertuples():
        low, high = bootstrap_ci(items[r.variant])[1:]
        ci.append(f"[{100 * low:.2f}, {100 * high:.2f}]")
        ref = default_of.get(r.group, defaults[r.group])
        if ref == r.variant:
            diff.append("(reference)")
        else:
            d, lo, hi = paired_difference_ci(items[r.variant], items[ref])
            diff.append(f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]")
    table["95% CI"], table["Δ vs default [95% CI]"] = ci, diff
    table["spearman"] = table["spearman"].map(lambda v: f"{v:.2f}")
    out = args.out or ROOT / "results" / f"baseline_dev_{args.model}.md"
    header = (f"# Baselines' inferred settings on the STS-B dev split — {args.model}\n\n"
              f"{len(pairs)} fixed dev pairs (the ablation's `offline_dev` sample; never the test split), Spearman "
              f"×100, bootstrap 95% CI over pairs; Δ: paired difference to the group's default (the first row; "
              f"sweeps: to the method's default). {backbone.num_layers} layers. From commit {git_commit()}: "
              f"`python scripts/baseline_dev_check.py --model {args.model} --limit {args.limit}"
              f"{' --no-sweep' if args.no_sweep else ''}`.\n\n")
    shown = table.drop(columns=["seconds"]).assign(tp_layers=table["tp_layers"].map(str))
    out.write_text(header + shown.to_markdown(index=False) + f"\n\nWall time {table['seconds'].sum() / 60:.1f} min "
                   "(one process, one core).\n")
    print(out.read_text())


if __name__ == "__main__":
    main()
