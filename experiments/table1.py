"""Paper Table 1: backbones × KV-Embedding and the baselines, then results/table1.md.

    python experiments/table1.py --profile full      # 3 paper backbones on mteb_table1 (GPU + hub or prefetch)
    python experiments/table1.py --profile offline   # SmolLM2-135M on real data + proxies (benchmark=offline_real)
    python experiments/table1.py --profile smoke     # the offline profile on 10 samples per task (make demo)
    python experiments/table1.py --profile full --plan   # texts, tokens and GPU-hours first; runs nothing
"""

from __future__ import annotations

import argparse

from _drive import ROOT, add_plan_arguments, add_run_arguments, multirun, plan_command, preflight, render

from kvembed.eval.tasks.local import resolve_data_root

PROFILES = {"full": ("table1", False), "offline": ("table1_offline", True), "smoke": ("table1_smoke", True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--launcher", default="basic", help="basic | slurm | submitit_local")
    add_plan_arguments(ap)
    add_run_arguments(ap)
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. batch_size=64")
    args = ap.parse_args()
    experiment, offline = PROFILES[args.profile]
    if args.plan:
        return plan_command(experiment, args.overrides, args)
    if args.profile == "full":
        preflight(["qwen3-4b", "mistral-7b", "llama-3.1-8b"], gpu=not args.cpu)
    if args.profile == "smoke":  # the demo: its own folder, so committed results stay as they are
        results = ROOT / "results" / "demo"
        multirun(experiment, f"launcher={args.launcher}", f"results_dir={results}", *args.overrides, offline=True)
        table = render(results, quiet=True)
        print(table.read_text())
        print(f"Done. The table is {table.relative_to(ROOT)} (and table1.csv beside it); the per-task parquet "
              f"files are under {(results / 'runs').relative_to(ROOT)}.\nNext: `make reproduce-table1 "
              "PROFILE=offline` (the full offline benchmark, ~51 min on 2 cores), `make reproduce-table1 PLAN=1` "
              "(what the paper's grid costs on a GPU), `make test`.")
        return
    extra = []
    if args.profile == "offline" and resolve_data_root() is None:
        print("No data folder of original files ($KVEMBED_DATA or benchmark.data=<folder>): the offline profile "
              "runs benchmark=offline (STS-B + proxies) instead of MTEB's STS category and the two real "
              "Classification tasks.")
        extra.append("benchmark=offline")
    if args.cpu:
        extra.append("device=cpu")
    multirun(experiment, f"launcher={args.launcher}", f"results_dir={args.results_dir}", *extra, *args.overrides,
             offline=offline)
    render(args.results_dir)


if __name__ == "__main__":
    main()
