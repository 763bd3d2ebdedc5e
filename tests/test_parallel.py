"""Two worker processes give the embeddings of single-process encoding, in input order."""

from __future__ import annotations

import numpy as np
import pytest

from kvembed import Encoder
from kvembed.parallel import ParallelEncoder

pytestmark = pytest.mark.integration


def test_two_cpu_processes_match_single_process(sentences):
    texts = sentences * 3 + ["one more, shorter", "and a last, rather longer text to break the ties in length"]
    single = Encoder.from_pretrained("tiny-qwen3", method="kvembed", layers=[1, 4], dtype="float32")
    want = single.encode(texts, batch_size=4)
    with ParallelEncoder("tiny-qwen3", method="kvembed", workers=2, layers=[1, 4], dtype="float32") as par:
        assert par.layers == (1, 4) and par.dim == single.dim
        got = par.encode(texts, batch_size=4)
        got_queries = par.encode(texts[:3], prompt_type="query", batch_size=4)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got_queries, single.encode(texts[:3], prompt_type="query"), rtol=0, atol=1e-6)


def test_worker_failures_surface_in_the_parent():
    with pytest.raises(RuntimeError, match="worker 0 failed"):
        ParallelEncoder("tiny-llama", method="kvembed", workers=1, layers=[99])


def test_the_runner_encodes_with_two_workers(tmp_path, compose):
    from kvembed.harness.run import run

    base = ["backbone=tiny-llama", "benchmark=offline_smoke", "benchmark.limit=16", "benchmark.tasks=[STSBenchmark]",
            "layers=explicit", "layers.layers=[2,3]", "logger=none"]
    scores = {}
    for workers in (1, 2):
        df = run(compose([*base, f"workers={workers}", f"results_dir={tmp_path}/w{workers}"]))
        assert (df["workers"] == workers).all()
        scores[workers] = df.set_index("metric")["value"].sort_index()
    np.testing.assert_allclose(scores[1].values, scores[2].values, atol=1e-6)
