"""Shared by the drivers: run a named experiment as one Hydra multirun, then render the tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from kvembed.hub import OFFLINE_ENV

ROOT = Path(__file__).resolve().parent.parent


def multirun(experiment: str, *overrides: str, offline: bool = False) -> None:
    """``python -m kvembed.run --multirun experiment=<name> [overrides]`` (finished tasks are skipped)."""
    env = dict(OFFLINE_ENV, **os.environ) if offline else dict(os.environ)
    cmd = [sys.executable, "-m", "kvembed.run", "--multirun", f"experiment={experiment}", *overrides]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def render(results_dir: Path = ROOT / "results", quiet: bool = False) -> Path:
    """Render ``results_dir``'s tables (table1.md, table1.csv, locov1.md); returns table1.md's path."""
    from kvembed.report.tables import render as render_tables

    path = render_tables(results_dir)
    if not quiet:
        print(path.read_text())
    return path


def preflight(backbones: list[str], gpu: bool = True) -> None:
    cmd = [sys.executable, str(ROOT / "scripts" / "preflight.py"), *(["--gpu"] if gpu else []),
           "--backbones", *backbones]
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit(2)


def add_run_arguments(ap) -> None:
    ap.add_argument("--results-dir", type=Path, default=ROOT / "results", help="where results and tables go")
    ap.add_argument("--cpu", action="store_true",
                    help="full profile on the CPU, no GPU required (rehearsals with small stand-in backbones)")


def add_plan_arguments(ap) -> None:
    ap.add_argument("--plan", action="store_true", help="print the cost plan (texts, tokens, GPU-hours); run nothing")
    ap.add_argument("--tokens-per-s", type=float, default=None, help="--plan: a measured throughput instead of FLOPs")
    ap.add_argument("--utilisation", type=float, default=0.35, help="--plan: GPU utilisation in the FLOPs model")
    ap.add_argument("--chars-per-token", type=float, default=4.0, help="--plan: characters per token")


def plan_command(experiment: str, overrides: list[str], args) -> None:
    """Print the cost plan of a named experiment (runs nothing): per job × task, per job, and the total."""
    from kvembed.harness.jobs import experiment_jobs
    from kvembed.harness.plan import Throughput, plan, total_line

    jobs = experiment_jobs(experiment, overrides)
    throughput = Throughput(utilisation=args.utilisation, tokens_per_s=args.tokens_per_s)
    chars_per_token = args.chars_per_token
    table = plan([j.config for j in jobs], throughput, chars_per_token)
    print(f"Cost plan of experiment={experiment} {' '.join(overrides)}".rstrip())
    print(f"Throughput model: {throughput.describe()}; {chars_per_token:g} characters per token; texts and "
          "characters from each task's data where it is here, else mteb's descriptive statistics.\n")
    with pd.option_context("display.max_rows", None, "display.width", 200):
        shown = table.assign(tokens=table["tokens"].round(), gpu_hours=table["gpu_hours"].round(3))
        print(shown.to_string(index=False))
        per_job = table.groupby(["backbone", "method"], as_index=False)[["texts", "tokens", "gpu_hours"]].sum()
        print("\nPer job:\n" + per_job.round(3).to_string(index=False))
    print("\n" + total_line(table, len(jobs)))
