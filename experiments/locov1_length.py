"""LoCoV1 nDCG@10 against max length (256 … 4,096) per method, then results/locov1.md.

    python experiments/locov1_length.py --profile full      # hub data (or prefetched), paper backbones: GPU
    python experiments/locov1_length.py --profile offline   # SmolLM2-135M on the offline LoCoV1 fixture
    python experiments/locov1_length.py --profile qmsum     # SmolLM2-135M on LoCoV1's qmsum from QMSum's files
    python experiments/locov1_length.py --profile qmsum backbone=qwen2.5-coder-0.5b   # another backbone
    python experiments/locov1_length.py --profile full --plan   # the cost plan; runs nothing
"""

from __future__ import annotations

import argparse

from _drive import add_plan_arguments, add_run_arguments, multirun, plan_command, preflight, render

# profile -> named experiment (kvembed/configs/experiment)
EXPERIMENTS = {"full": "locov1_length", "offline": "locov1_length_offline", "qmsum": "locov1_length_qmsum"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=list(EXPERIMENTS), default="full")
    add_plan_arguments(ap)
    add_run_arguments(ap)
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    if args.plan:
        experiment = EXPERIMENTS[args.profile]
        extra = ["backbone=mistral-7b"] if args.profile == "full" else []
        return plan_command(experiment, [*extra, *args.overrides], args)
    where = f"results_dir={args.results_dir}"
    if args.profile == "full":
        preflight(["mistral-7b"], gpu=not args.cpu)
        multirun("locov1_length", "backbone=mistral-7b", where, *(["device=cpu"] if args.cpu else []), *args.overrides)
    else:
        multirun(EXPERIMENTS[args.profile], where, *args.overrides, offline=True)
    render(args.results_dir)


if __name__ == "__main__":
    main()
