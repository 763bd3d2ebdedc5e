"""A sweep through submitit's local executor (the SLURM code path) gives the basic launcher's results."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from kvembed.harness import results

pytestmark = pytest.mark.integration

ARGS = ["backbone=tiny-llama", "benchmark=offline_smoke", "benchmark.limit=16", "benchmark.tasks=[STSBenchmark]",
        "layers=explicit", "layers.layers=[2,3]", "logger=none", "bias=0,2"]


def sweep(tmp_path, launcher: str) -> pd.DataFrame:
    out = tmp_path / launcher
    cmd = [sys.executable, "-m", "kvembed.run", "--multirun", f"launcher={launcher}", *ARGS,
           f"results_dir={out}", f"hydra.sweep.dir={out}/multirun"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    frame = pd.concat(pd.read_parquet(f) for f in results.task_files(out / "runs"))
    return frame[frame["is_main"]].set_index("bias")["value"].sort_index()


def test_submitit_local_sweep_matches_the_basic_launcher(tmp_path):
    basic = sweep(tmp_path, "basic")
    local = sweep(tmp_path, "submitit_local")
    assert list(basic.index) == [0.0, 2.0]
    pd.testing.assert_series_equal(basic, local)
    assert list((tmp_path / "submitit_local" / "multirun" / ".submitit").iterdir()), "submitit ran the jobs"
