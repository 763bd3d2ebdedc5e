"""Rehearse the paper's path with the hub switched off: ``make prefetch``, Table 1's full profile and the
LoCoV1 length sweep through the real drivers and runner, on stand-ins that keep everything but the weights and
the rows (``scripts/rehearsal.py``): the three backbones under their hub ids, mteb_table1's 25 tasks in
their real schemas and revisions, LoCoV1 from the repository's fixture.

    python scripts/rehearse.py                       # the whole grid into outputs/rehearsal/results
    python scripts/rehearse.py --slice               # CI's slice: each backbone x kvembed and mean (LoCoV1: 4,096)
    python scripts/rehearse.py --launcher submitit_local --slice   # the SLURM code path, short of a cluster

Every stand-in is built once into ``outputs/rehearsal/{hub,datasets}``; the rehearsal's results, tables and
configs never touch the repository's. Rows from a data folder are not used (``KVEMBED_DATA`` is unset), so
every task runs on a handful of rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from lanes import run_pool
from rehearsal import PUBLISHED, SMALL, build_datasets, build_hub, build_locov1

from kvembed.harness.job import CONFIG_DIR
from kvembed.hub import OFFLINE_ENV
from kvembed.paths import stable_hash
from kvembed.report.tables import locov1_table, render
from kvembed.store.results import load_results

ROOT = Path(__file__).resolve().parent.parent
BACKBONES = ["qwen3-4b", "mistral-7b", "llama-3.1-8b"]


def environment(scratch: Path) -> dict[str, str]:
    # the rehearsal's own data and pins (the lock file beside its hub cache), never the user's
    env = {k: v for k, v in os.environ.items() if k not in ("KVEMBED_DATA", "KVEMBED_REVISIONS")}
    env.setdefault("OMP_NUM_THREADS", "1")  # one single-threaded driver per core (run_pool)
    return {**env, **OFFLINE_ENV, "HF_HUB_CACHE": str(scratch / "hub"), "HF_DATASETS_CACHE": str(scratch / "datasets"),
            "KVEMBED_CACHE": str(scratch / "cache"), "WANDB_DIR": str(scratch)}


def build(scratch: Path) -> None:
    tasks = yaml.safe_load((Path(CONFIG_DIR) / "benchmark" / "mteb_table1.yaml").read_text())["tasks"]
    marker, made_by = scratch / "hub" / ".built", stable_hash({"small": SMALL, "backbones": sorted(PUBLISHED)})
    if not marker.exists() or marker.read_text() != made_by:  # rebuilt when the stand-ins' shape changes
        shutil.rmtree(scratch / "hub", ignore_errors=True)
        build_hub(scratch / "hub", list(PUBLISHED))
        marker.write_text(made_by)
    build_datasets(scratch / "datasets", tasks)
    build_locov1(scratch / "datasets", ROOT / "tests" / "fixtures" / "locov1", longest=max(locov1_lengths()))


def run(cmd: list[str], env: dict[str, str]) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def locov1_lengths() -> list[int]:
    """The LoCoV1 experiment's swept lengths, longest first."""
    experiment = yaml.safe_load((Path(CONFIG_DIR) / "experiment" / "locov1_length.yaml").read_text())
    return sorted((int(n) for n in str(experiment["hydra"]["sweeper"]["params"]["max_length"]).split(",")),
                  reverse=True)


def check_tables(results: Path, backbones: list[str], methods: list[str]) -> None:
    """Every (backbone, method) row of Table 1 has every category and all 25 tasks; LoCoV1 every length."""
    table = pd.read_csv(results / "table1.csv")
    table = table[table["benchmark"] == "mteb_table1"]
    cells = [c for c in table.columns if c.endswith(")") and "(" in c and not c.endswith("CI")]
    missing = [(b, m) for b in backbones for m in methods if table[(table.backbone == b) & (table.method == m)].empty]
    if missing or len(cells) != 7 or table[cells].isna().any().any() or (table["n_tasks"] != 25).any():
        raise SystemExit(f"rehearse: Table 1 incomplete (missing rows {missing}, columns {cells})")

    loco = locov1_table(load_results(results))
    lengths = [c for c in loco.columns if c.endswith(" tok")]
    if "4096 tok" not in lengths or loco[lengths].isna().any().any():
        raise SystemExit(f"rehearse: the LoCoV1 table lacks a length ({lengths})")
    print(f"rehearse: Table 1 complete ({len(table)} rows x 7 categories x 25 tasks) and LoCoV1 to 4,096 tokens")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scratch", type=Path, default=ROOT / "outputs" / "rehearsal")
    ap.add_argument("--slice", action="store_true",
                    help="each backbone x kvembed and mean only; LoCoV1 kvembed at 4,096 tokens only (CI)")
    ap.add_argument("--launcher", default="basic", help="basic | submitit_local")
    args = ap.parse_args(argv)
    scratch = args.scratch.resolve()
    build(scratch)
    env = environment(scratch)
    results = scratch / ("results-slice" if args.slice else "results") / args.launcher
    # prefetch pins the revisions in the lock file beside the rehearsal's hub cache; the runs then load them
    run([sys.executable, "scripts/prefetch.py", "--pin", "--backbones", *BACKBONES, "--benchmarks", "mteb_table1"],
        env)
    methods = ["kvembed", "mean"] if args.slice else None
    sweep = [f"method={','.join(methods)}"] if methods else []
    common = ["--cpu", "--results-dir", str(results)]
    table1 = [sys.executable, "experiments/table1.py", "--profile", "full", "--launcher", args.launcher, *common,
              *sweep, "batch_size=8"]
    locov1 = [sys.executable, "experiments/locov1_length.py", "--profile", "full", *common]
    # Table 1's grid and the LoCoV1 sweep share nothing but read-only caches; the sweep goes one length per
    # driver, the longest first (at 4,096 tokens it costs about as much as the whole Table 1 grid on the CPU)
    # submitit's local executor starts every job of a sweep at once (array_parallelism is SLURM's): the whole
    # grid's 27 jobs (~1 GB each) exhausted 24 GiB, so through it Table 1 goes one backbone's sweep at a time
    table1_lane = ([[*table1, f"backbone={b}"] for b in BACKBONES]
                   if args.launcher == "submitit_local" and not args.slice else [table1])
    if args.slice:  # the slice: the longest context only
        lanes = [table1_lane, [[*locov1, "method=kvembed", "max_length=4096"]]]
    else:
        longest, *rest = locov1_lengths()
        lanes = [[[*locov1, f"max_length={longest}"]], table1_lane, *([[*locov1, f"max_length={n}"]] for n in rest)]
    failed = run_pool(lanes, env, workers=os.cpu_count() or 2, cwd=ROOT)
    if failed:
        raise SystemExit(f"rehearse: failed: {failed}")

    render(results)  # once more, after every driver: each renders when it finishes
    if methods is None:
        from kvembed.harness.jobs import experiment_jobs

        methods = sorted({j.config.method.name.value for j in experiment_jobs("table1")})
    check_tables(results, BACKBONES, methods)


if __name__ == "__main__":
    main()
