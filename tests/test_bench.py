"""`make bench` keeps working: the script measures every method against the plain forward and writes its table.

Structure only — timings are never asserted (these machines are noisy); the numbers live in results/bench.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def test_bench_writes_a_ratio_per_method_and_length_and_the_extras(tmp_path):
    out = tmp_path / "bench.md"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--model", "tiny-llama",
                    "--lengths", "16", "32", "--tokens", "32", "--min-texts", "4", "--repeats", "2",
                    "--sts-texts", "32", "--methods", "all", "--out", str(out)],
                   check=True, capture_output=True, cwd=ROOT)
    raw = pd.read_parquet(out.with_suffix(".parquet"))
    assert set(raw["length"]) == {16, 32}
    assert {"plain (mean)", "kvembed (auto)", "kvembed (all layers)", "prompteol", "echo",
            "token_prepending", "cp", "sentence-transformers (mean)"} <= set(raw["method"])
    assert (raw.groupby(["length", "method"]).size() == 2).all()  # every method in every interleaved round
    assert raw["git_commit"].nunique() == 1 and raw["git_commit"].iloc[0] in out.read_text()  # names its code
    assert (raw["texts"] >= 4).all()
    assert (raw["texts_per_s"] > 0).all() and (raw["peak_mb"] >= 0).all()
    text = out.read_text()
    assert "speed_vs_plain" in text and "memory_vs_plain" in text
    assert "Length-sorted batching vs arrival order" in text
    assert "with an empty cache" in text and "once cached on disk" in text
