"""The runner end to end on a tiny backbone and the offline smoke benchmark: parquet schema, resume,
kill safety, W&B offline, tables, and clear errors for hub-backed data offline."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from kvembed.harness.jobs import compose_config
from kvembed.harness.run import run
from kvembed.report import tables
from kvembed.store import results

pytestmark = pytest.mark.integration

BASE = ["backbone=tiny-llama", "benchmark=offline_smoke", "benchmark.limit=24", "layers=explicit",
        "layers.layers=[2,3]", "batch_size=8"]
TASKS = ["STSBenchmark", "STSBRetrieval.proxy", "STSBGenreClassification.proxy", "STSBSourceClustering.proxy",
         "STSBPairClassification.proxy", "STSBReranking.proxy", "STSBSummarization.proxy"]


def cfg(tmp_path: Path, *extra: str):
    return compose_config([*BASE, f"results_dir={tmp_path}", "logger=none", *extra])


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return out, run(cfg(out))


def test_one_parquet_file_per_task_in_long_format(first_run):
    out, df = first_run
    files = results.task_files(out / "runs")
    assert sorted(f.stem for f in files) == sorted(TASKS)
    one = pd.read_parquet(files[0])
    required = {"run_id", "timestamp", "git_commit", "code_version", "versions", "backbone", "revision", "dtype",
                "method",
                "layers", "pooling", "bias", "prompt_document", "prompt_query", "max_length", "task_name",
                "task_type", "split", "subset", "n_samples", "wall_seconds", "tokens_per_s", "peak_memory_mb",
                "metric", "value", "is_main", "is_proxy", "config_hash", "overrides"}
    assert required <= set(one.columns)
    assert one["is_main"].sum() == 1 and one["n_samples"].iloc[0] > 0
    assert set(df["task_name"]) == set(TASKS)
    assert df.loc[df["task_name"] == "STSBenchmark", "is_proxy"].eq(False).all()
    assert df.loc[df["task_name"] != "STSBenchmark", "is_proxy"].all()
    assert df["layers"].map(list).map([2, 3].__eq__).all()  # a list column, not str(list)
    assert one["id_curve"].iloc[0] is None and list(one["layers"].iloc[0]) == [2, 3]
    # the settings the user set, as canonical JSON: what reports select runs by
    assert set(df["overrides"]) == {'{"layers": {"layers": [2, 3], "strategy": "explicit"}}'}


def test_per_item_scores_are_written_and_reproduce_the_main_score(first_run):
    from scipy.stats import spearmanr

    out, df = first_run
    folder = next((out / "runs").rglob("STSBenchmark.parquet")).parent
    main = df[df["is_main"]].set_index("task_name")["value"]
    sts = pd.read_parquet(results.items_path(folder, "STSBenchmark"))
    assert len(sts) == 24
    assert spearmanr(sts["prediction"], sts["gold"]).statistic == pytest.approx(main["STSBenchmark"], abs=1e-6)
    retrieval = pd.read_parquet(results.items_path(folder, "STSBRetrieval.proxy"))
    assert retrieval["ndcg_at_10"].mean() == pytest.approx(main["STSBRetrieval.proxy"], abs=1e-4)
    geometry = df[(df["task_name"] == "STSBenchmark") & df["metric"].str.startswith("geometry_")]
    assert set(geometry["metric"]) == {"geometry_alignment", "geometry_uniformity", "geometry_isotropy",
                                       "geometry_mean_cosine"}
    assert geometry["value"].between(-10, 4).all()
    # classification and clustering have no per-item score
    assert not results.items_path(folder, "STSBGenreClassification.proxy").exists()


def test_rerun_skips_finished_tasks_and_force_reruns(first_run):
    out, _ = first_run
    files = results.task_files(out / "runs")
    mtimes = [f.stat().st_mtime_ns for f in files]
    assert run(cfg(out)).empty
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    forced = run(cfg(out, "force=true", "benchmark.tasks=[STSBenchmark]"))
    assert set(forced["task_name"]) == {"STSBenchmark"}


def test_a_code_change_makes_a_rerun_compute_again(tmp_path, monkeypatch):
    """Results made by code that computes something else are never reused: the resume check compares the
    recorded fingerprint with this code's."""
    import kvembed.harness.run as runner

    out = tmp_path
    made = run(cfg(out, "benchmark.tasks=[STSBenchmark]"))
    assert len(made) and made["fingerprint"].nunique() == 1
    assert run(cfg(out, "benchmark.tasks=[STSBenchmark]")).empty  # same code: nothing to do
    computed = runner.task_fingerprints
    monkeypatch.setattr(runner, "task_fingerprints", lambda *a: {
        n: {**f, "fingerprint": "a-fixed-bug"} for n, f in computed(*a).items()})
    again = run(cfg(out, "benchmark.tasks=[STSBenchmark]"))
    assert set(again["task_name"]) == {"STSBenchmark"} and (again["fingerprint"] == "a-fixed-bug").all()


def test_mteb_reads_the_results_back_with_its_own_result_cache(first_run):
    import mteb

    out, df = first_run
    cache = mteb.ResultCache(out / "mteb")
    files = list((out / "mteb").rglob("*.json"))
    task_files = [f for f in files if f.name not in ("model_meta.json",)]
    assert len(task_files) == len(TASKS)
    assert all("experiments" in f.parts for f in task_files)  # the configuration is an mteb experiment
    loaded = cache.load_results(tasks=TASKS, include_remote=False, load_experiments="match_name")
    scores = {r.task_name: r.get_score() for m in loaded.model_results for r in m.task_results}
    main = df[df["is_main"]].groupby("task_name")["value"].mean()
    assert set(scores) == set(TASKS)
    for task, value in scores.items():
        assert value == pytest.approx(main[task], abs=1e-6)  # mteb stores scores to six decimals


def test_the_readme_call_of_mtebs_result_cache_finds_every_result(first_run):
    """The call README.md shows, made exactly as written (only the folder is this test's)."""
    import mteb

    out, _ = first_run
    call = 'mteb.ResultCache("results/mteb").load_results(load_experiments="match_name")'
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"`{call}`" in readme
    loaded = eval(call.replace('"results/mteb"', repr(str(out / "mteb"))), {"mteb": mteb})  # noqa: S307
    assert {r.task_name for m in loaded.model_results for r in m.task_results} == set(TASKS)


def test_a_row_is_current_exactly_while_this_code_computes_its_fingerprint(first_run):
    out, df = first_run
    main = df[df["is_main"]]
    assert set(tables.provenance(main)) == {"current"} or set(tables.provenance(main)) == {"dirty"}
    other = main.assign(fingerprint="made-by-other-code", git_commit="abc")
    assert set(tables.provenance(other)) == {"older code"}
    unknown = main.drop(columns="fingerprint").assign(git_commit="abc")  # made before fingerprints existed
    assert set(tables.provenance(unknown)) == {"older code"}


def test_table_rendering(first_run, tmp_path):
    out, _ = first_run
    md = tables.render(out).read_text()
    assert "derived from STS-B text" in md and "tiny-llama" in md
    t = pd.read_csv(out / "table1.csv")
    # the paper's seven categories, each column saying real or proxy and how many tasks it averages
    assert {"STS (real, 1)", "Retrieval (proxy, 1)", "Classification (proxy, 1)", "Clustering (proxy, 1)",
            "PairClassification (proxy, 1)", "Reranking (proxy, 1)", "Summarization (proxy, 1)",
            "Avg."} <= set(t.columns)
    assert set(t["code"]) <= {"current", "dirty"}  # made by this checkout's code
    assert "STS (proxy" not in md and "Rows come from: packaged files: STSBGenreClassification.proxy" in md
    low, high = (float(x) for x in t.loc[0, "STS (real, 1) CI"].strip("[]").split(","))  # from per-pair scores
    assert low <= t.loc[0, "STS (real, 1)"] <= high and low < high
    assert "Classification (proxy, 1) CI" not in t  # no per-item scores: no interval claimed
    frame = results.load_results(out)
    expected = frame[frame["is_main"]].groupby("task_name")["value"].mean().mean() * 100
    assert abs(t.loc[0, "Avg."] - expected) < 0.01


def test_wandb_offline_run_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    df = run(cfg(tmp_path, "logger=wandb", f"logger.dir={tmp_path}", "benchmark.tasks=[STSBenchmark]"))
    run_dirs = list((tmp_path / "wandb").glob("offline-run-*"))
    assert len(run_dirs) == 1 and any(run_dirs[0].rglob("*.wandb"))
    recorded = df["wandb_dir"].iloc[0]
    assert run_dirs[0].name in recorded and not Path(recorded).is_absolute()  # no machine path in results


def test_wandb_offline_runs_go_beside_the_results_they_log_never_into_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.delenv("WANDB_DIR", raising=False)
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    out = tmp_path / "results"
    run(cfg(out, "logger=wandb", "benchmark.tasks=[STSBenchmark]"))  # no logger.dir given
    assert len(list((out / "wandb").glob("offline-run-*"))) == 1
    assert not any(here.iterdir())


def test_wandb_failure_never_blocks_parquet(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")  # no key, no network: W&B refuses to start
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    df = run(cfg(tmp_path, "logger=wandb", "logger.mode=online", f"logger.dir={tmp_path}",
                 "benchmark.tasks=[STSBenchmark]"))
    assert len(df) and next((tmp_path / "runs").rglob("STSBenchmark.parquet")).exists()


def _cli(tmp_path: Path) -> list[str]:
    return [sys.executable, "-m", "kvembed.run", *BASE, f"results_dir={tmp_path}", "logger=none"]


def test_killed_run_loses_nothing_and_repeats_nothing(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(_cli(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline and not results.task_files(tmp_path):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {f.stem: f.stat().st_mtime_ns for f in results.task_files(tmp_path)}
    assert 1 <= len(done) < len(TASKS), done
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()], "a temporary file was left behind"
    run(cfg(tmp_path))  # the rerun: the same configuration (in this process; the kill needed its own)
    after = {f.stem: f.stat().st_mtime_ns for f in results.task_files(tmp_path)}
    assert set(after) == set(TASKS)
    assert all(after[k] == v for k, v in done.items()), "a finished task was recomputed"


def test_hub_backed_task_without_network_names_the_dataset(monkeypatch):
    from kvembed.eval.tasks import DatasetUnavailableError, get_task, load_task_data
    from kvembed.eval.tasks.local import ENV

    monkeypatch.delenv(ENV, raising=False)  # no data folder of original files: STS12 comes from the hub
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match="mteb/sts12-sts"):
        load_task_data(get_task("STS12"))
    assert time.perf_counter() - start < 30


def test_unknown_task_is_a_clear_error():
    from kvembed.eval.tasks import get_task

    with pytest.raises(ValueError, match="Unknown task 'NoSuchTask'"):
        get_task("NoSuchTask")


def test_out_of_memory_halves_the_batch(tiny_backbones, monkeypatch, sentences):
    import torch

    from kvembed import Encoder, forward
    from kvembed.methods import get_method

    enc = Encoder(tiny_backbones("llama"), get_method("prompteol"))
    expected = enc.encode(sentences, batch_size=8)
    real_run = forward.run

    def flaky(model, batch, *args, **kw):
        if batch.input_ids.shape[0] > 2:
            raise torch.OutOfMemoryError("simulated")
        return real_run(model, batch, *args, **kw)

    monkeypatch.setattr(forward, "run", flaky)
    got = enc.encode(sentences, batch_size=8)
    assert enc.stats["oom_halvings"] >= 2
    import numpy as np

    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_rerun_with_the_embedding_cache_encodes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("KVEMBED_CACHE", str(tmp_path / "cache"))
    first = run(cfg(tmp_path, "cache=readwrite", "benchmark.tasks=[STSBenchmark,STSBRetrieval.proxy]"))
    again = run(cfg(tmp_path, "cache=readwrite", "force=true", "benchmark.tasks=[STSBenchmark,STSBRetrieval.proxy]"))
    assert (first["n_samples"] > 0).all()
    assert (again["n_samples"] == 0).all() and (again["cache_hit_rate"] == 1.0).all()
    key = ["task_name", "metric"]
    pd.testing.assert_series_equal(first.set_index(key)["value"].sort_index(),
                                   again.set_index(key)["value"].sort_index())


def test_study_expands_named_experiments_into_jobs_with_their_own_result_folders():
    from kvembed.harness.jobs import experiment_jobs

    jobs = experiment_jobs("bias_sweep", ["benchmark=offline_smoke"])
    assert [j.swept for j in jobs] == [{"bias": b} for b in ("-2", "0", "1", "2", "4")]
    assert len({j.folder for j in jobs}) == 5
    # a sweep on the command line replaces the experiment's own sweep of the same key, as in Hydra
    windows = experiment_jobs("layer_sweep", ["benchmark=offline_smoke", "layers.start=range(0,28,9)"])
    assert [j.config.layers.start for j in windows] == [0, 9, 18, 27]


def test_reports_find_the_runner_results_by_their_columns_and_report_paired_intervals(first_run):
    from kvembed.report.ablation import question_table
    from kvembed.store.results import finished
    from kvembed.store.study import Question

    out, df = first_run
    runs = finished(out)
    assert sorted(runs["task_name"]) == sorted(TASKS)
    assert runs["settings"].map({"layers.strategy": "explicit", "layers.layers": [2, 3]}.__eq__).all()
    main = df[df["is_main"]].set_index("task_name")["value"]
    assert runs.set_index("task_name")["main_score"].to_dict() == pytest.approx(main.to_dict())
    q = Question("tiny", "tiny", "none", context=("backbone=tiny-llama", "benchmark=offline_smoke"),
                 settings={"layers": "<any>"})
    table = question_table(q, runs, {}).set_index("task")
    sts = table.loc["STSBenchmark"]
    assert sts["variant"] == "layers=explicit(layers=[2, 3])"
    assert sts["ci_low"] <= sts["score"] <= sts["ci_high"]
    assert "vs_kvembed" not in table  # the paper's kvembed (no setting changed) has not run here
    assert pd.isna(table.loc["STSBGenreClassification.proxy"].get("ci_low"))


def test_recorded_embeddings_are_found_whether_or_not_mteb_stripped_the_text(tiny_backbones):
    """mteb strips retrieval corpora before encoding; per-item scores look the raw corpus text up."""
    from kvembed import Encoder
    from kvembed.eval.mteb_model import MTEBEncoder
    from kvembed.methods import get_method

    model = MTEBEncoder(Encoder(tiny_backbones("llama"), get_method("mean")))
    model.record()
    stripped = model.encode([{"text": ["Take a look at this:"]}], task_metadata=None, hf_split="test",
                            hf_subset="default", prompt_type=None)
    assert (model.lookup("document", ["Take a look at this: "]) == stripped).all()
    with pytest.raises(KeyError, match="not encoded"):
        model.lookup("document", ["never encoded"])


def test_table1_takes_a_method_default_run_that_another_experiment_ran_first():
    row = dict(benchmark="offline_smoke", backbone="tiny-llama", task_name="STSBenchmark", task_type="STS",
               is_proxy=False, is_main=True)
    df = pd.DataFrame([dict(row, experiment="table1_smoke", method="kvembed", config_hash="a", overrides="{}",
                            value=0.5),
                       dict(row, experiment="ablate_components", method="mean", config_hash="b", overrides="{}",
                            value=0.4),
                       dict(row, experiment="bias_sweep", method="mean", config_hash="c", overrides='{"bias": 2.0}',
                            value=0.9)])
    scores = tables.table1_scores(df, "offline_smoke")
    assert sorted(zip(scores["method"], scores["config_hash"])) == [("kvembed", "a"), ("mean", "b")]


def test_a_run_on_another_split_gets_its_own_result_folder():
    from kvembed.harness.jobs import experiment_jobs

    test = experiment_jobs(None, ["benchmark=offline_smoke"])[0]
    dev = experiment_jobs(None, ["benchmark=offline_smoke", "benchmark.split=validation"])[0]
    assert dev.key != test.key
    from kvembed.harness.job import result_key

    assert result_key(test.config)["split"] is None and result_key(dev.config)["split"] == "validation"


def test_wandb_gets_each_tasks_scores_as_a_table_and_its_measures_as_scalars(tmp_path):
    """The settings every row repeats are the W&B run's config: the per-task table holds the scores only."""
    import wandb

    from kvembed.harness.tracking import Tracker
    from kvembed.store.results import SCORE_COLUMNS

    class Run:
        summary: dict = {}
        logged: list = []

        def log(self, payload):
            self.logged.append(payload)

    rows = pd.DataFrame({"backbone": ["x", "x"], "method": ["kvembed"] * 2, "wall_seconds": [1.5, 1.5],
                         "n_samples": [10, 10], "split": ["test"] * 2, "subset": ["default"] * 2,
                         "metric": ["ndcg_at_10", "main_score"], "value": [0.5, 0.5], "is_main": [False, True]})
    tracker = Tracker({"name": "none"}, {}, "job", "group")
    tracker.run = Run()
    tracker.log_task("T", rows)
    (payload,) = tracker.run.logged
    assert isinstance(payload["T/table"], wandb.Table) and tuple(payload["T/table"].columns) == SCORE_COLUMNS
    assert payload["T/wall_seconds"] == 1.5 and payload["T/n_samples"] == 10 and payload["T/main_score"] == 0.5


def test_a_fixed_value_of_a_swept_key_replaces_the_experiments_sweep_as_in_hydra():
    """`experiment=table1 backbone=qwen3-4b` runs Table 1's methods on one backbone (Hydra's sweeper gives the
    command line precedence); the expansion the drivers, the cost plan and the rehearsal read must agree."""
    from kvembed.harness.jobs import expand

    jobs = expand("table1", ["backbone=qwen3-4b"])
    assert len(jobs) == len(expand("table1")) // 3 and all("backbone=qwen3-4b" in j for j in jobs)
