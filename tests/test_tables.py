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
