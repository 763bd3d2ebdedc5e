"""The ablation study: its questions, the choices it makes on dev, how it reads runs by their columns, and
a report whose wording and formatting follow its numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kvembed.report.ablation import conclusion, layer_runs
from kvembed.store.results import ANY, ANY_OR_UNSET, Selection
from kvembed.store.study import (
    BY_KEY,
    CHOICES,
    QUESTIONS,
    STAGES,
    Choice,
    Question,
    choose,
    context_columns,
    select_on_dev,
)


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
                         "settings": [{"layers.strategy": "range", "layers.start": s} for s in (0, 3, 6, 9)]})


def test_a_choice_takes_the_best_dev_variant_and_the_first_of_ties():
    choice = choose(_scores("validation"), ("layers.start",), "window", "window")
    assert choice == Choice("window", "window", {"layers.start": 3}, 0.54, 4)
    assert choice.overrides == ("layers.start=3",)
    assert Choice("bias", "bias", {"bias": 2.0}, 0.5, 5).overrides == ("bias=2",)  # one configuration either way


def test_a_choice_refuses_test_split_scores():
    with pytest.raises(ValueError, match="refusing to choose on split"):
        choose(_scores("test"), ("layers.start",), "window")


def test_questions_wait_for_the_choices_they_need():
    tuned = BY_KEY["tuned_test"]
    window = Choice("window", "window", {"layers.start": 3}, 0.5, 28)
    assert tuned.resolve({"window": window}) is None and tuned.selection({"window": window}) is None
    chosen = {"window": window, "bias": Choice("bias", "bias_window", {"bias": 2.5}, 0.5, 5),
              "recipe": Choice("recipe", "prompt_pooling", {"prompt": "prompteol", "pooling": "last"}, 0.6, 15)}
    assert tuned.resolve(chosen) == ("benchmark=offline", "backbone=smollm2-135m", "prompt=prompteol",
                                     "pooling=last", "layers.start=3", "bias=2.5")
    selection = tuned.selection(chosen)
    assert selection.where == {"benchmark": "offline", "backbone": "smollm2-135m"}
    assert selection.settings == {"layers.strategy": "range", "prompt": "prompteol", "pooling": "last",
                                  "layers.start": 3, "bias": 2.5}


def test_a_context_is_read_as_result_columns_and_nothing_else_can_set_one():
    assert context_columns(("benchmark=sts_real", "benchmark.limit=50")) == {"benchmark": "sts_real", "limit": 50}
    with pytest.raises(ValueError, match="only .* can set a context"):
        context_columns(("max_length=1024",))


def _runs(*rows: dict) -> pd.DataFrame:
    base = dict(benchmark="offline_dev", backbone="smollm2-135m", method="kvembed", task_name="STSBenchmark",
                limit=None)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_a_selection_admits_the_runs_that_set_exactly_its_settings():
    runs = _runs({"settings": {}}, {"settings": {"bias": 2.0}}, {"settings": {"bias": 2.0, "pooling": "last"}},
                 {"settings": {"layers.strategy": "range", "layers.start": 3}},
                 {"settings": {"layers.strategy": "auto", "layers.representation": "mean"}},
                 {"settings": {}, "method": "mean"}, {"settings": {"bias": 2.0}, "backbone": "gemma3-270m"})
    def picked(**kw):
        return list(Selection({"backbone": "smollm2-135m"}, **kw).select(runs).index)

    assert picked(methods=("kvembed",)) == [0]  # the method as stated: nothing set
    assert picked(settings={"bias": ANY}) == [1]  # set, to any value; a run setting more is another question
    assert picked(settings={"bias": ANY_OR_UNSET}, methods=("kvembed",)) == [0, 1]
    assert picked(settings={"bias": 2}) == [1]  # numbers compare by value
    assert picked(settings={"layers.strategy": "range", "layers.start": ANY}) == [3]
    assert picked(settings={"layers": ANY}) == [3, 4]  # a group admits every one of its fields
    assert picked(settings={"layers.strategy": ("auto", "none"), "layers": ANY}) == [4]
    assert list(Selection({"limit": 200}).select(runs).index) == []


def test_a_variant_is_labelled_by_the_settings_its_question_varies():
    row = pd.Series({"method": "kvembed", "settings": {"layers.strategy": "auto", "layers.representation": "mean"}})
    assert BY_KEY["auto"].label(row) == "layers=auto(representation=mean)"
    assert BY_KEY["window"].label(pd.Series({"method": "kvembed", "settings": {
        "layers.strategy": "range", "layers.start": 12}})) == "layers.start=12"
    assert BY_KEY["rope"].label(pd.Series({"method": "kvembed", "settings": {}})) == "prefix_position=default"
    assert BY_KEY["components"].label(pd.Series({"method": "kvembed_two_pass", "settings": {}})) == \
        "method=kvembed_two_pass"
    assert BY_KEY["prompt_pooling"].label(pd.Series({"method": "kvembed", "settings": {
        "prompt": "ke", "pooling": "last"}})) == "prompt=ke, pooling=last"


def test_conclusion_says_no_difference_when_the_paired_interval_covers_zero():
    row = dict(task="STSBenchmark", layers="[1]", ci_low=0.4, ci_high=0.6, vs_kvembed=0.0, vs_kvembed_low=0.0,
               vs_kvembed_high=0.0)
    table = pd.DataFrame([dict(row, variant="a", score=0.52, vs_no_reroute=0.004, vs_no_reroute_low=-0.002,
                               vs_no_reroute_high=0.01),
                          dict(row, variant="b", score=0.50, vs_no_reroute=-0.02, vs_no_reroute_low=-0.03,
                               vs_no_reroute_high=-0.01)])
    text = conclusion(Question("x", "x", "none"), table)
    assert "best: a (52.00)" in text and "worst: b (50.00)" in text
    assert "no detectable difference (+0.40 points" in text

    single = conclusion(Question("x", "x", "none"), table.iloc[:1])
    assert single.startswith("a scores 52.00;") and "worst" not in single


@pytest.mark.integration
def test_every_question_expands_into_valid_jobs_with_distinct_result_folders_that_it_then_reads():
    from kvembed.harness.job import overrides_column
    from kvembed.harness.jobs import experiment_jobs
    from kvembed.store.results import settings

    chosen = {"window": Choice("window", "window", {"layers.start": 3}, 0.5, 28),
              "bias": Choice("bias", "bias_window", {"bias": 2.0}, 0.5, 5),
              "recipe": Choice("recipe", "prompt_pooling", {"prompt": "prompteol", "pooling": "last"}, 0.6, 15),
              "qwen_window": Choice("qwen_window", "qwen_window", {"layers.start": 6}, 0.5, 8)}
    for q in QUESTIONS:
        jobs = experiment_jobs(q.experiment, q.resolve(chosen))
        assert jobs, q.key
        assert len({j.folder for j in jobs}) == len(jobs), f"{q.key}: two jobs would share a result folder"
        # what the question runs is what it reads back: every job's rows are admitted by its selection
        selection = q.selection(chosen)
        for job in jobs:
            run = job.config
            columns = {"benchmark": run.benchmark.name, "backbone": run.backbone.name, "limit": run.benchmark.limit}
            assert all(columns[c] == v for c, v in selection.where.items()), (q.key, job.swept)
            assert run.method.name.value in selection.methods, (q.key, job.swept)
            assert selection.admits(settings(overrides_column(run))), (q.key, job.swept)


def _fake_result(job, score: float, split: str = "validation") -> None:
    """A task file shaped like the runner's, for a job that never ran (the selection reads only these)."""
    from kvembed.harness.job import overrides_column
    from kvembed.store import results

    run = job.config
    row = dict(task_name="STSBenchmark", split=split, subset="default", metric="main_score", value=score,
               is_main=True, max_length=512, id_curve=None, layer_strategy="range", method=run.method.name.value,
               layers=[1], bias=1.0, pooling="mean_last", prefix_position=None, prompt_document="{text}",
               backbone=run.backbone.name, benchmark=run.benchmark.name, limit=run.benchmark.limit,
               overrides=overrides_column(run), is_proxy=False, task_type="STS")
    results.write_table(pd.DataFrame([row]), results.task_path(job.folder, "STSBenchmark"))


@pytest.mark.integration
def test_select_on_dev_chooses_the_window_then_the_bias_at_that_window(tmp_path):
    from kvembed.harness.jobs import experiment_jobs
    from kvembed.store.results import finished

    window = BY_KEY["window"]
    for job in experiment_jobs(window.experiment, window.resolve({}), tmp_path):
        _fake_result(job, 0.5 + (0.1 if job.swept["layers.start"] == "4" else 0.0))
    chosen = select_on_dev(finished(tmp_path))
    assert chosen["window"].overrides == ("layers.start=4",) and "bias" not in chosen
    bias_q = BY_KEY["bias_window"]
    jobs = experiment_jobs(bias_q.experiment, bias_q.resolve(chosen), tmp_path)
    assert {j.config.layers.start for j in jobs} == {4}  # the bias is swept at the chosen window
    for job in jobs:
        _fake_result(job, {"2": 0.7}.get(job.swept["bias"], 0.6))
    assert select_on_dev(finished(tmp_path))["bias"].overrides == ("bias=2",)


def test_every_question_on_the_real_sts_category_reports_the_category_with_paired_intervals():
    """The 1.5B question once rendered per-task rows only: its context was not one of the two listed by hand."""
    real = {q.key for q in QUESTIONS if q.on_real_sts_category}
    assert real == {"real", "window_real", "qwen_real", "qwen_window_real", "qwen15_real"}
    assert not BY_KEY["qwen_new_real"].on_real_sts_category and not BY_KEY["qwen_window"].on_real_sts_category


def test_a_question_without_sts_b_concludes_per_task_and_says_where_it_has_no_intervals():
    """Emotion and TwitterURLCorpus once concluded 'Not run yet.' beside 20 finished rows."""
    scores = [("method=kvembed", 0.437), ("method=kvembed_no_reroute", 0.43), ("method=cp", 0.502)]
    table = pd.DataFrame([dict(variant=v, task="Emotion", score=s, ci_low=float("nan"), ci_high=float("nan"))
                          for v, s in scores])
    text = conclusion(Question("x", "x", "none"), table)
    assert text.startswith("Emotion: best method=cp (50.20), worst method=kvembed_no_reroute (43.00)")
    assert "kvembed − kvembed_no_reroute +0.70" in text and "no intervals" in text
