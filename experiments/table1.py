"""Paper Table 1: backbones × KV-Embedding and the baselines, then results/table1.md.

    python experiments/table1.py --profile full      # 3 paper backbones on mteb_table1 (GPU + hub or prefetch)
    python experiments/table1.py --profile offline   # SmolLM2-135M on benchmark=offline (~1 h on 2 CPU cores)
    python experiments/table1.py --profile smoke     # the offline profile on 40 samples per task
"""

from __future__ import annotations

import argparse

from _drive import multirun, preflight, render

PROFILES = {"full": ("table1", False), "offline": ("table1_offline", True), "smoke": ("table1_smoke", True)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="full")
    ap.add_argument("--launcher", default="basic", help="basic | slurm | submitit_local")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. batch_size=64")
    args = ap.parse_args()
    experiment, offline = PROFILES[args.profile]
    if args.profile == "full":
        preflight(["qwen3-4b", "mistral-7b", "llama-3.1-8b"])
    multirun(experiment, f"launcher={args.launcher}", *args.overrides, offline=offline)
    render()


if __name__ == "__main__":
    main()
