"""The ablation report's wording and formatting follow its numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvembed.report.ablation import BY_KEY, CHOICES, QUESTIONS, STAGES, Choice, Question, choose, conclusion, layer_runs


def test_layer_lists_collapse_into_runs():
    assert layer_runs([3, 4, 5]) == "3–5"
    assert layer_runs(np.array([0, 1, 2, 5, 7, 8])) == "0–2, 5, 7–8"  # as read back from a list column
    assert layer_runs([]) == "none" and layer_runs(None) == "none"


def test_every_question_belongs_to_one_stage_and_runs_after_the_choices_it_needs():
    order = [q.key for stage in STAGES.values() for q in stage]
    assert sorted(order) == sorted(q.key for q in QUESTIONS)
    for q in QUESTIONS:
        for need in q.needs:
            assert order.index(CHOICES[need][0]) < order.index(q.key), (q.key, need)


def test_every_choice_is_made_on_the_dev_split_and_confirmed_on_test():
    for question, _ in CHOICES.values():
        assert BY_KEY[question].context[0] == "benchmark=offline_dev"
    assert {"benchmark=offline"} == {BY_KEY[k].context[0] for k in ("confirm", "window_test", "tuned_test")}
    assert BY_KEY["tuned_test"].needs == BY_KEY["tuned_dev"].needs == ("recipe", "window", "bias")


def _scores(split: str) -> pd.DataFrame:
    return pd.DataFrame({"task_name": "STSBenchmark", "split": split, "main_score": [0.50, 0.54, 0.54, 0.40],
                         "swept": [{"layers.start": str(s)} for s in (0, 3, 6, 9)]})


def test_a_choice_takes_the_best_dev_variant_and_the_first_of_ties():
    choice = choose(_scores("validation"), ("layers.start",), "window", "window")
    assert choice == Choice("window", "window", {"layers.start": "3"}, 0.54, 4)
    assert choice.overrides == ("layers.start=3",)


def test_a_choice_refuses_test_split_scores():
    with pytest.raises(ValueError, match="refusing to choose on split"):
        choose(_scores("test"), ("layers.start",), "window")


def test_questions_wait_for_the_choices_they_need():
    tuned = BY_KEY["tuned_test"]
    window = Choice("window", "window", {"layers.start": "3"}, 0.5, 28)
    assert tuned.resolve({"window": window}) is None
    chosen = {"window": window, "bias": Choice("bias", "bias_window", {"bias": "2.0"}, 0.5, 5),
              "recipe": Choice("recipe", "prompt_pooling", {"prompt": "prompteol", "pooling": "last"}, 0.6, 15)}
    assert tuned.resolve(chosen) == ("benchmark=offline", "prompt=prompteol", "pooling=last", "layers.start=3",
                                     "bias=2.0")


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

    chosen = {"window": Choice("window", "window", {"layers.start": "3"}, 0.5, 28),
              "bias": Choice("bias", "bias_window", {"bias": "2.0"}, 0.5, 5),
              "recipe": Choice("recipe", "prompt_pooling", {"prompt": "prompteol", "pooling": "last"}, 0.6, 15),
              "qwen_window": Choice("qwen_window", "qwen_window", {"layers.start": "6"}, 0.5, 8)}
    for q in QUESTIONS:
        jobs = experiment_jobs(q.experiment, q.resolve(chosen))
        assert jobs, q.key
        assert len({j.folder for j in jobs}) == len(jobs), f"{q.key}: two jobs would share a result folder"


def _fake_result(job, score: float, split: str = "validation") -> None:
    """A task file shaped like the runner's, for a job that never ran (the selection reads only these)."""
    from kvembed.harness import results

    row = dict(task_name="STSBenchmark", split=split, subset="default", metric="main_score", value=score,
               is_main=True, max_length=512, id_curve=None, layer_strategy="range", method="kvembed", layers=[1],
               bias=1.0, pooling="mean_last", prefix_position=None, prompt_document="{text}", backbone="smollm2-135m",
               is_proxy=False, task_type="STS")
    results.write_table(pd.DataFrame([row]), results.task_path(job.folder, "STSBenchmark"))


def test_select_on_dev_chooses_the_window_then_the_bias_at_that_window(tmp_path):
    from kvembed.harness.study import experiment_jobs
    from kvembed.report.ablation import select_on_dev

    window = BY_KEY["window"]
    for job in experiment_jobs(window.experiment, window.resolve({}), tmp_path):
        _fake_result(job, 0.5 + (0.1 if job.swept["layers.start"] == "4" else 0.0))
    chosen = select_on_dev(tmp_path)
    assert chosen["window"].overrides == ("layers.start=4",) and "bias" not in chosen
    bias_q = BY_KEY["bias_window"]
    jobs = experiment_jobs(bias_q.experiment, bias_q.resolve(chosen), tmp_path)
    assert {j.config.layers.start for j in jobs} == {4}  # the bias is swept at the chosen window
    for job in jobs:
        _fake_result(job, {"2": 0.7}.get(job.swept["bias"], 0.6))
    assert select_on_dev(tmp_path)["bias"].overrides == ("bias=2",)


def test_a_category_score_is_the_mean_over_its_tasks_with_a_joint_paired_bootstrap():
    import numpy as np
    import pandas as pd

    from kvembed.eval.item_scores import spearman
    from kvembed.report.intervals import category_ci

    rng = np.random.default_rng(0)

    def task(n, noise):
        gold = rng.uniform(0, 5, n)
        return pd.DataFrame({"item": range(n), "gold": gold, "prediction": gold + rng.normal(0, noise, n)})

    good = [task(80, 0.5), task(40, 1.0)]
    worse = [t.assign(prediction=t["prediction"] + rng.normal(0, 3.0, len(t))) for t in good]
    mean, lo, hi = category_ci(good, n_boot=200)
    assert mean == pytest.approx(np.mean([spearman(t["prediction"], t["gold"]) for t in good]))
    assert lo < mean < hi
    assert category_ci(good, good, n_boot=50) == (0.0, 0.0, 0.0)  # a configuration against itself
    d, dlo, dhi = category_ci(good, worse, n_boot=200)
    assert d > 0 and dlo > 0  # a clearly better configuration is detected
