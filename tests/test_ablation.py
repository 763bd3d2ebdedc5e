"""The ablation report's wording and formatting follow its numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvembed.report.ablation import QUESTIONS, STAGES, Question, _layers, conclusion


def test_layer_lists_collapse_into_runs():
    assert _layers([3, 4, 5]) == "3–5"
    assert _layers(np.array([0, 1, 2, 5, 7, 8])) == "0–2, 5, 7–8"  # as read back from a list column
    assert _layers([]) == "none" and _layers(None) == "none"


def test_every_question_belongs_to_a_stage_the_driver_runs():
    runs = {(e, tuple(o)) for stage in STAGES.values() for e, o in stage}
    assert all((q.experiment, q.overrides) in runs for q in QUESTIONS)


def test_conclusion_says_no_difference_when_the_paired_interval_covers_zero():
    row = dict(task="STSBenchmark", layers="[1]", ci_low=0.4, ci_high=0.6, vs_kvembed=0.0, vs_kvembed_low=0.0,
               vs_kvembed_high=0.0)
    table = pd.DataFrame([dict(row, variant="a", score=0.52, vs_no_reroute=0.004, vs_no_reroute_low=-0.002,
                               vs_no_reroute_high=0.01),
                          dict(row, variant="b", score=0.50, vs_no_reroute=-0.02, vs_no_reroute_low=-0.03,
                               vs_no_reroute_high=-0.01)])
    text = conclusion(Question("x", "x", None), table)
    assert "best: a (52.00)" in text and "worst: b (50.00)" in text
    assert "no detectable difference (+0.40 points" in text

    single = conclusion(Question("x", "x", None), table.iloc[:1])
    assert single.startswith("a scores 52.00;") and "worst" not in single


@pytest.mark.integration
def test_every_question_expands_into_valid_jobs_with_distinct_result_folders():
    from kvembed.harness.study import experiment_jobs

    for q in QUESTIONS:
        jobs = experiment_jobs(q.experiment, q.overrides)
        assert jobs, q.key
        assert len({j.folder for j in jobs}) == len(jobs), f"{q.key}: two jobs would share a result folder"
