"""Real MTEB tasks from a data folder of original files: mteb's own task classes and evaluators, rows read
from the files, counts checked against the statistics that ship inside mteb, clear errors naming the file.

The tests on the real files need the folder: ``$KVEMBED_DATA`` (``make test`` and ``.ci/run`` point it at
the Makefile's default data folder when it exists); without it they skip and say why. The error tests build their own
folders."""

from __future__ import annotations

import shutil

import mteb
import pytest

from kvembed.eval.tasks import data_source, get_task, load_task_data
from kvembed.eval.tasks.local import ENV, LOCAL_TASKS, TRAIN_POOL, LocalDataError, local_task, resolve_data_root

ROOT = resolve_data_root()
needs_data = pytest.mark.skipif(ROOT is None or not ROOT.is_dir(),
                                reason=f"no data folder: set ${ENV} (make test sets it to its default data "
                                       "folder when that exists)")

# mteb 2.26's descriptive statistics, written out: the loader must reproduce them from the files
ROWS = {"STS12": 3108, "STS13": 1500, "STS14": 3750, "STS15": 3000, "STS16": 1186, "SICK-R": 9927, "BIOSSES": 100}


def test_the_local_tasks_are_the_sts_category_three_classification_tasks_one_pair_task_and_locov1_qmsum():
    assert set(LOCAL_TASKS) == set(ROWS) | {"Banking77Classification", "AmazonCounterfactualClassification",
                                            "EmotionClassification", "TwitterURLCorpus", "LoCoV1.qmsum"}


@needs_data
@pytest.mark.parametrize("name", list(ROWS))
def test_sts_tasks_are_mtebs_own_with_every_scored_pair(name):
    task = local_task(name, ROOT)
    assert type(task) is type(mteb.get_task(name))  # mteb's own class, hence its own evaluator
    test = task.dataset["test"]
    assert len(test) == ROWS[name]
    assert set(test.column_names) == {"sentence1", "sentence2", "score"}
    low, high = {"SICK-R": (1, 5), "BIOSSES": (0, 4)}.get(name, (0, 5))
    assert low <= min(test["score"]) and max(test["score"]) <= high
    assert all(s.strip() for s in list(test["sentence1"]) + list(test["sentence2"]))


@needs_data
def test_classification_tasks_are_whole_and_a_limit_samples_the_evaluated_splits_and_a_train_pool():
    banking = local_task("Banking77Classification", ROOT)
    assert {k: len(v) for k, v in banking.dataset.items()} == {"train": 10003, "test": 3080}
    assert len(set(banking.dataset["test"]["label"])) == 77
    amazon = local_task("AmazonCounterfactualClassification", ROOT, limit=100)
    assert amazon.hf_subsets == ["en"]
    # the classifier draws its few examples per label from a pool of TRAIN_POOL x limit training texts
    assert {k: len(v) for k, v in amazon.dataset["en"].items()} == {"train": TRAIN_POOL * 100, "validation": 100,
                                                                    "test": 100}
    assert set(amazon.dataset["en"]["train"]["label"]) == {0, 1}
    whole = local_task("AmazonCounterfactualClassification", ROOT).dataset["en"]["train"]["text"]
    assert set(amazon.dataset["en"]["train"]["text"]) < set(whole)


@needs_data
def test_emotion_is_mtebs_own_task_with_its_rows_and_labels():
    emotion = local_task("EmotionClassification", ROOT)
    assert type(emotion) is type(mteb.get_task("EmotionClassification"))
    assert {k: len(v) for k, v in emotion.dataset.items()} == {"train": 16000, "validation": 2000, "test": 2000}
    test = emotion.dataset["test"]
    # mteb's ids: sadness 0, joy 1, love 2, anger 3, fear 4, surprise 5 (its statistics: 581 / 695 / 159 / ...)
    assert [list(test["label"]).count(k) for k in range(6)] == [581, 695, 159, 275, 224, 66]
    assert sum(len(t) for t in test["text"]) == 193_173  # mteb's character total of the test split


@needs_data
def test_twitter_url_corpus_is_mtebs_own_task_with_its_pairs_and_labels_and_says_how_it_differs():
    from kvembed.eval.tasks.local import KNOWN_DIFFERENCES

    task = local_task("TwitterURLCorpus", ROOT)
    assert type(task) is type(mteb.get_task("TwitterURLCorpus"))
    test = task.dataset["test"]
    assert set(test.column_names) == {"sentence1", "sentence2", "labels"}
    assert len(test) == 51_534 and list(test["labels"]).count(1) == 12_988  # train + test parts, n = 3 dropped
    assert "lower-cased" in KNOWN_DIFFERENCES["TwitterURLCorpus"]
    sampled = local_task("TwitterURLCorpus", ROOT, limit=100).dataset["test"]
    assert len(sampled) == 100 and set(sampled["labels"]) == {0, 1}


def test_the_original_twitter_url_judgements_map_as_mteb_maps_them(tmp_path):
    from kvembed.eval.tasks.local import _twitter_url_corpus

    folder = tmp_path / "twitter_url_corpus"
    (folder / "train").mkdir(parents=True)
    for name, text in (("a.toks", "a b\n"), ("b.toks", "c d\n"), ("sim.txt", "1\n")):
        (folder / "train" / name).write_text(text)
    (folder / "Twitter_URL_Corpus_test.txt").write_text(
        "s1\tt1\t(0,6)\turl\n\ns2\tt2\t(3,6)\turl\ns3\tt3\t(4,6)\turl\ns4\tt4\t\t(2,6)\turl\n")
    assert _twitter_url_corpus(folder) == [("a b", "c d", 1), ("s1", "t1", 0), ("s3", "t3", 1), ("s4", "t4", 0)]
    (folder / "Twitter_URL_Corpus_test.txt").write_text("s1\tt1\tno judgement\n")
    with pytest.raises(LocalDataError, match=r"Twitter_URL_Corpus_test.txt:1: no '\(n,6\)' judgement"):
        _twitter_url_corpus(folder)


@needs_data
def test_a_limit_is_a_fixed_seeded_sample_and_get_task_reads_the_folder():
    a = get_task("STS12", limit=50, data=str(ROOT))
    b = get_task("STS12", limit=50, data=str(ROOT))
    assert len(a.dataset["test"]) == 50 and list(a.dataset["test"]["sentence1"]) == list(b.dataset["test"]["sentence1"])
    assert list(a.dataset["test"]["sentence1"]) != list(local_task("STS12", ROOT).dataset["test"]["sentence1"])[:50]
    load_task_data(a)  # already loaded: no hub access
    assert data_source("STS12", data=str(ROOT)) == "local files"
    assert data_source("STSBenchmark", data=str(ROOT)) == "packaged files"


def test_without_a_data_folder_the_tasks_come_from_the_hub(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert resolve_data_root() is None
    assert data_source("STS12", "local") == "hub"
    assert not getattr(get_task("STS12", data="local"), "data_loaded", False)


def test_a_missing_file_is_named(tmp_path):
    (tmp_path / "biosses").mkdir()
    with pytest.raises(LocalDataError, match="biosses_sentence_pairs_test_derived_from_github.txt"):
        local_task("BIOSSES", tmp_path)
    with pytest.raises(LocalDataError, match="STS12-en-test"):
        local_task("STS12", tmp_path)
    with pytest.raises(LocalDataError, match="categories.json"):
        local_task("Banking77Classification", tmp_path)


@needs_data
def test_a_file_that_does_not_match_mtebs_statistics_is_refused(tmp_path):
    shutil.copytree(ROOT / "biosses", tmp_path / "biosses")
    scores = tmp_path / "biosses" / "annotation_scores_from_github.txt"
    scores.write_text(scores.read_text().replace("4\n", "3\n", 1))  # one gold score changed
    with pytest.raises(LocalDataError, match=r"BIOSSES: the files under .*biosses.*avg_score"):
        local_task("BIOSSES", tmp_path)
    folder = tmp_path / "sts" / "STS16-en-test"
    shutil.copytree(ROOT / "sts" / "STS16-en-test", folder)
    for name in ("STS.input.headlines.txt", "STS.gs.headlines.txt"):  # a whole subset missing
        (folder / name).unlink()
    with pytest.raises(LocalDataError, match="num_samples: .* here, 1186 in mteb"):
        local_task("STS16", tmp_path)


@needs_data
@pytest.mark.integration
def test_mteb_evaluates_a_local_task_with_kvembeds_encoder(tiny_backbones):
    from kvembed import Encoder
    from kvembed.eval.mteb_model import MTEBEncoder

    task = get_task("BIOSSES", limit=30, data=str(ROOT))
    model = MTEBEncoder(Encoder.from_pretrained(tiny_backbones("llama"), method="prompteol"))
    result = mteb.evaluate(model, [task], cache=None, overwrite_strategy="always", show_progress_bar=False)
    score = result.task_results[0].get_score()
    assert -1.0 <= score <= 1.0


def test_the_runner_keys_and_records_local_data(compose, monkeypatch, tmp_path):
    from kvembed.harness.config import validate
    from kvembed.harness.job import result_key, uses_local_data

    run = validate(compose(["benchmark=sts", f"benchmark.data={tmp_path}"]))
    assert uses_local_data(run) and result_key(run)["local_data"] is True
    # a LoCoV1 fixture keeps its own rows (and its key) when a data folder holds LoCoV1.qmsum's files
    monkeypatch.setenv(ENV, str(tmp_path))
    fixture = validate(compose(["benchmark=locov1_fixture"]))
    assert not uses_local_data(fixture)
    qmsum = validate(compose(["benchmark=locov1_qmsum"]))
    assert uses_local_data(qmsum)
    monkeypatch.delenv(ENV, raising=False)
    offline = validate(compose(["benchmark=offline"]))
    assert not uses_local_data(offline) and result_key(offline)["local_data"] is False
    assert result_key(validate(compose(["benchmark=locov1_fixture"]))) == result_key(fixture)


@needs_data
def test_locov1_qmsum_is_qmsums_test_split_each_summary_retrieving_its_meeting():
    task = get_task("LoCoV1.qmsum", data="local")
    split = task.dataset["default"]["test"]
    assert task.metadata.type == "Retrieval" and task.metadata.main_score == "ndcg_at_10"
    assert (len(split["corpus"]), len(split["queries"])) == (35, 281)
    assert all(len(rel) == 1 for rel in split["relevant_docs"].values()) and len(split["relevant_docs"]) == 281
    first = split["corpus"][0]["text"]
    assert first.startswith("Lynne Neagle AM: Good afternoon") and "\nBarry Hughes: Perfectly happy." in first
    assert min(len(d["text"]) for d in split["corpus"]) > 14_000  # long documents: 4,096 tokens truncate them all
    assert data_source("LoCoV1.qmsum", "local") == "local files"
    sample = get_task("LoCoV1.qmsum", limit=20, data="local").dataset["default"]["test"]
    assert (len(sample["corpus"]), len(sample["queries"])) == (35, 20)  # a limit samples queries, never documents


@needs_data
def test_the_locov1_fixture_keeps_its_own_qmsum_when_a_data_folder_is_set():
    fixture = get_task("LoCoV1.qmsum", data="tests/fixtures/locov1")
    load_task_data(fixture)
    assert len(fixture.dataset["default"]["test"]["corpus"]) != 35
    assert data_source("LoCoV1.qmsum", data="tests/fixtures/locov1") != "local files"


def test_a_qmsum_file_with_other_counts_is_refused(tmp_path):
    import gzip
    import json

    (tmp_path / "qmsum").mkdir()
    meeting = {"meeting_transcripts": [{"speaker": "A", "content": "Hello ."}], "topic_list": [],
               "general_query_list": [{"query": "Summarize.", "answer": "They met."}], "specific_query_list": []}
    with gzip.open(tmp_path / "qmsum" / "test.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(meeting) + "\n")
    with pytest.raises(LocalDataError, match="35 meetings|'meetings': 1"):
        local_task("LoCoV1.qmsum", tmp_path)
    with pytest.raises(LocalDataError, match="Missing data file"):
        local_task("LoCoV1.qmsum", tmp_path / "nowhere")
