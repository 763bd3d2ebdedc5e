"""Spearman×100 on STS-B and encode throughput for every baseline and KV-Embedding, one backbone.

    python scripts/stsb_methods.py --model smollm2-135m --split test --out results/stsb_smollm2-135m.md
    python scripts/stsb_methods.py --render results/stsb_smollm2-135m.parquet   # re-render the table only

Writes a parquet file (every row with its fingerprint) and a markdown table rendered from it, with the chosen
layers of kvembed and each row's `code` status (kvembed.report.tables.provenance).
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import pandas as pd
import torch

from kvembed import Encoder
from kvembed.backbones import load_backbone
from kvembed.data.stsb import load_stsb
from kvembed.eval.sts import evaluate_sts
from kvembed.provenance import code_version, git_commit
from kvembed.report.tables import provenance
from kvembed.store import fingerprint
from kvembed.store.results import package_versions, write_table

SHOWN = ["method", "spearman", "texts_per_s", "layers", "n_pairs"]

DEFAULT_METHODS = ["mean", "last", "prompteol", "pretcot", "ke", "echo", "token_prepending", "cp",
                   "kvembed_no_reroute", "kvembed"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--split", default="test", choices=["train", "dev", "test"])
    ap.add_argument("--methods", nargs="+", default=DEFAULT_METHODS)
    ap.add_argument("--limit", type=int, default=None, help="first N pairs only")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--merge", action="store_true",
                    help="replace only these methods' rows in --out's parquet, keeping the others (each row keeps "
                         "its own git_commit and fingerprint)")
    ap.add_argument("--render", type=Path, default=None, metavar="PARQUET",
                    help="only re-render the markdown table beside this parquet file")
    args = ap.parse_args()
    if args.render:
        render(pd.read_parquet(args.render), args.render.with_suffix(".md"))
        return

    pairs = load_stsb(args.split)[: args.limit]
    backbone = load_backbone(args.model)
    rows = []
    for name in args.methods:
        enc = Encoder.from_pretrained(backbone, method=name)
        res = evaluate_sts(enc, pairs, batch_size=args.batch_size)
        rows.append({"method": name, "spearman": round(res.spearman, 2), "texts_per_s": round(res.texts_per_second, 1),
                     "layers": ",".join(map(str, enc.layers)) or "-", "n_pairs": res.n_pairs})
        print(rows[-1], flush=True)
    quantised = (" (SmolLM2-135M-Instruct from a 4-bit Q4_1 GGUF, dequantised to fp32: the scores are those of the "
                 "quantised weights)") if args.model == "smollm2-135m" else ""
    header = (f"STS-B {args.split} ({len(pairs)} pairs), backbone {args.model}{quantised}, {backbone.dtype} on "
              f"{backbone.device}; {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
              f"batch {args.batch_size}. Code: commit `{git_commit()}`, code version `{code_version('scores')}`"
              + (" for the methods of the last --merge run; each row's commit is its `git_commit` column in the "
                 "parquet file." if args.merge else ".")
              + f"\n\nCommand: `python scripts/stsb_methods.py --model {args.model} --split {args.split}"
              + (f" --limit {args.limit}" if args.limit else "")
              + (f" --methods {' '.join(args.methods)} --merge" if args.merge else "") + "`\n\n")
    prints = fingerprint.current()
    df = pd.DataFrame([{**r, **prints.row(r["method"], {}, "STS")} for r in rows]).assign(
        overrides="{}", task_type="STS", use_instructions=False, git_commit=git_commit(),
        code_version=code_version("scores"), versions=package_versions(), header=header)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.merge and args.out.with_suffix(".parquet").exists():
            kept = pd.read_parquet(args.out.with_suffix(".parquet"))
            kept = kept[~kept["method"].isin(args.methods)].assign(header=header)
            df = pd.concat([kept, df], ignore_index=True)
            df = df.set_index("method").loc[[m for m in DEFAULT_METHODS if m in set(df["method"])]
                                            + sorted(set(df["method"]) - set(DEFAULT_METHODS))].reset_index()
        write_table(df, args.out.with_suffix(".parquet"))
        render(df, args.out)
    else:
        print(df[SHOWN].to_markdown(index=False))


def render(df: pd.DataFrame, out: Path) -> None:
    """The markdown table of a results frame: its header, then one row per method with its `code` status."""
    table = df[SHOWN].assign(code=provenance(df)).to_markdown(index=False)
    note = ("`code`: `current` = from a clean commit whose code computes what this checkout's computes (the row's "
            "fingerprint); `older code` = code that computed something else; `dirty` = uncommitted code.\n\n")
    out.write_text(df["header"].iloc[0] + note + table + "\n")
    print(table)

if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
