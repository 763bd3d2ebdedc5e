"""A Hydra multirun (``kvembed run --multirun``) writes one result file per task per job, and the same sweep
through submitit's local executor (the SLURM code path: each job in its own process) gives the basic launcher's
results."""

from __future__ import annotations

import logging
import sys

import pandas as pd
import pytest

from kvembed.store import results

pytestmark = pytest.mark.integration

TASKS = ["STSBRetrieval.proxy", "STSBenchmark"]
ARGS = ["backbone=tiny-llama", "benchmark=offline_smoke", "benchmark.limit=16", f"benchmark.tasks=[{','.join(TASKS)}]",
        "layers=explicit", "layers.layers=[2,3]", "logger=none", "bias=0,2"]


def sweep(tmp_path, launcher: str, monkeypatch) -> pd.Series:
    """Main scores by (bias, task) of the sweep through ``launcher``; each job has its own folder of task files."""
    from kvembed.cli import main

    out = tmp_path / launcher
    monkeypatch.setattr(sys, "argv", list(sys.argv))  # the run command hands its arguments to Hydra by sys.argv
    root = logging.getLogger()  # Hydra sets up logging for its jobs: this process's is put back afterwards
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    main(["run", "--multirun", f"launcher={launcher}", *ARGS, f"results_dir={out}", f"hydra.sweep.dir={out}/multirun"])
    files = results.task_files(out / "runs")
    folders = sorted({f.parent for f in files})
    assert len(folders) == 2 and all([f.stem for f in results.task_files(d)] == TASKS for d in folders)
    frame = pd.concat(pd.read_parquet(f) for f in files)
    return frame[frame["is_main"]].set_index(["bias", "task_name"])["value"].sort_index()


def test_a_multirun_writes_each_jobs_tasks_and_submitit_local_matches_the_basic_launcher(tmp_path, monkeypatch):
    basic = sweep(tmp_path, "basic", monkeypatch)
    assert list(basic.index) == [(b, t) for b in (0.0, 2.0) for t in sorted(TASKS)]
    local = sweep(tmp_path, "submitit_local", monkeypatch)
    pd.testing.assert_series_equal(basic, local)
    assert list((tmp_path / "submitit_local" / "multirun" / ".submitit").iterdir()), "submitit ran the jobs"
