"""Table 1 from result rows: which rows a cell averages."""

from __future__ import annotations

import pandas as pd

from kvembed.provenance import code_version
from kvembed.report.tables import table1


def _row(task: str, split: str, value: float, experiment: str = "table1_offline", task_type: str = "Classification"):
    return dict(benchmark="offline_real", experiment=experiment, backbone="b", method="m", config_hash="h",
                overrides="{}", task_name=task, task_type=task_type, is_proxy=False, split=split, value=value,
                is_main=True, git_commit="abc", code_version=code_version("scores"), limit=100)


def test_a_task_scored_on_dev_and_test_counts_by_its_test_split_and_a_shared_job_counts_whole():
    rows = pd.DataFrame([_row("AmazonCounterfactualClassification", "validation", 0.90),
                         _row("AmazonCounterfactualClassification", "test", 0.50),
                         # the same configuration, one task written by another driver that shared the job
                         _row("Banking77Classification", "test", 0.70, experiment="ablation_confirm")])
    t = table1(rows, "offline_real")
    assert len(t) == 1 and t.loc[0, "n_tasks"] == 2
    assert t.loc[0, "Classification (real, 2)"] == 60.0  # (50 + 70) / 2: not the validation split's 90
    assert t.loc[0, "split"] == "test"


def test_the_real_locov1_table_gives_each_length_a_query_interval_and_rerouting_a_paired_difference(tmp_path):
    import numpy as np

    from kvembed.report.tables import locov1_ci_table

    rng = np.random.default_rng(0)
    rows = []
    for method, shift in (("kvembed", 0.1), ("kvembed_no_reroute", 0.0), ("mean", 0.0)):
        for length in (256, 4096):
            ndcg = np.clip(rng.uniform(0, 0.8, 40) + shift, 0, 1)
            result = tmp_path / f"{method}-{length}.parquet"
            pd.DataFrame({"item": range(40), "ndcg_at_10": ndcg}).to_parquet(
                result.with_name(result.name.removesuffix(".parquet") + ".items.parquet"))
            rows.append({"is_main": True, "benchmark": "locov1_qmsum", "backbone": "b", "method": method,
                         "max_length": length, "value": ndcg.mean(), "result_file": str(result),
                         "task_name": "LoCoV1.qmsum"})
    table = locov1_ci_table(pd.DataFrame(rows), "locov1_qmsum")
    assert list(table.columns) == ["backbone", "method", "256 tok", "4096 tok", "code"]
    kv = table.set_index("method").loc["kvembed"]
    assert kv["256 tok"].count("[") == 1 and float(kv["256 tok"].split()[0]) > 0
    assert (table["code"].iloc[:3] == "older code").all()  # no fingerprint recorded: never current
    diff = table.set_index("method").loc["kvembed − kvembed_no_reroute", "4096 tok"]
    low, high = (float(v) for v in diff.split("[")[1].rstrip("]").split(","))
    assert float(diff.split()[0]) > 0 and low < float(diff.split()[0]) < high
