"""The cost plan's arithmetic, on a case small enough to check by hand."""

from __future__ import annotations

import pytest

from kvembed.data.stsb import load_stsb
from kvembed.eval.tasks.offline import sample_indices
from kvembed.harness.config import validate
from kvembed.harness.plan import Throughput, plan, total_line
from kvembed.methods.prompteol import PROMPTEOL


def test_texts_tokens_and_gpu_hours_follow_the_stated_model(compose):
    run = validate(compose(["backbone=smollm2-135m", "method=prompteol", "benchmark=offline_smoke",
                            "benchmark.limit=10", "benchmark.tasks=[STSBenchmark]"]))
    pairs = [load_stsb("test")[i] for i in sample_indices(1379, 10)]
    texts = [p.sentence1 for p in pairs] + [p.sentence2 for p in pairs]
    avg_chars = sum(map(len, texts)) / len(texts)
    literal = len(PROMPTEOL.replace("{text}", "")) / 4.0
    want_tokens = len(texts) * min(512, avg_chars / 4.0 + literal)

    table = plan([run], Throughput(peak_tflops=1000.0, utilisation=0.5), chars_per_token=4.0)
    row = table.set_index("task").loc["STSBenchmark"]
    assert row["texts"] == 20
    assert row["tokens"] == pytest.approx(want_tokens)
    assert row["gpu_hours"] == pytest.approx(2 * 1.35e8 * want_tokens / (1000e12 * 0.5) / 3600)

    measured = plan([run], Throughput(tokens_per_s=100.0)).set_index("task").loc["STSBenchmark"]
    assert measured["gpu_hours"] == pytest.approx(want_tokens / 100.0 / 3600)
    assert total_line(table, 1).startswith("total: 1 jobs, 20 texts, ")


def test_echo_pays_for_two_copies_and_auto_layers_for_the_id_sample(compose):
    base = ["backbone=smollm2-135m", "benchmark=offline_smoke", "benchmark.limit=10",
            "benchmark.tasks=[STSBenchmark]"]
    echo = plan([validate(compose([*base, "method=echo"]))]).set_index("task")
    last = plan([validate(compose([*base, "method=last"]))]).set_index("task")
    assert echo.loc["STSBenchmark", "tokens"] > 2 * last.loc["STSBenchmark", "tokens"] - 20
    kv = plan([validate(compose([*base, "method=kvembed"]))]).set_index("task")
    assert kv.loc["layers=auto (ID estimate)", "texts"] == 1000


def test_the_total_line_reads_as_a_budget():
    import pandas as pd

    table = pd.DataFrame({"texts": [1.5e6, 4e5, float("nan")], "tokens": [3e8, 1.1e8, float("nan")],
                          "gpu_hours": [20.2, 10.1, float("nan")]})
    assert total_line(table, 24) == ("total: 24 jobs, 1.9M texts, 410.0M tokens, ~31 GPU-h "
                                     "(1 task rows without statistics, not counted)")
