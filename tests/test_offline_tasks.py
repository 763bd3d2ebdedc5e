"""Table 1's seven categories offline: every offline task runs through mteb.evaluate with kvembed's encoder,
each side of each task gets the template its role calls for, and a job encodes each text once."""

from __future__ import annotations

import math

import mteb
import pytest

from kvembed import Encoder
from kvembed.eval.mteb_model import MTEBEncoder
from kvembed.eval.tasks import get_task, load_task_data
from kvembed.eval.tasks.offline import OFFLINE_TASKS, PROXY_TASKS

# the role each side of a task type must be encoded with (symmetric tasks: the method's symmetric_role)
ROLES = {"STS": {"symmetric"}, "Classification": {"symmetric"}, "Clustering": {"symmetric"},
         "PairClassification": {"symmetric"}, "Summarization": {"symmetric"},
         "Retrieval": {"query", "document"}, "Reranking": {"query", "document"}}


class Recording:
    """A TextEncoder that records the role of every encode call, delegating to a real Encoder."""

    def __init__(self, encoder: Encoder) -> None:
        self.inner = encoder
        self.roles: list[str] = []
        self.n_texts = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode(self, texts, prompt_type="document", **kw):
        self.roles.append(prompt_type)
        self.n_texts += len(texts)
        return self.inner.encode(texts, prompt_type=prompt_type, **kw)


@pytest.fixture(scope="module")
def encoder(tiny_backbones):
    return Encoder.from_pretrained(tiny_backbones("qwen3"), method="kvembed", layers=[2])


def evaluate(model, name, limit=24):
    task = get_task(name, limit=limit, data="local")
    load_task_data(task)
    return task, mteb.evaluate(model, [task], cache=None, overwrite_strategy="always",
                               show_progress_bar=False).task_results[0]


def test_the_offline_benchmark_covers_the_seven_table1_categories():
    types = {get_task(n, data="local").metadata.type for n in OFFLINE_TASKS}
    assert types == set(ROLES)
    assert PROXY_TASKS == set(OFFLINE_TASKS) - {"STSBenchmark"}


@pytest.mark.integration
@pytest.mark.parametrize("name, method", [(n, "kvembed") for n in OFFLINE_TASKS] + [
    (n, "echo") for n in ("STSBenchmark", "STSBPairClassification.proxy", "STSBRetrieval.proxy")])
def test_each_task_runs_through_mteb_and_each_side_gets_its_role(name, method, tiny_backbones):
    inner = Encoder.from_pretrained(tiny_backbones("qwen3"), method=method, layers=[2]) if method == "kvembed" \
        else Encoder.from_pretrained(tiny_backbones("qwen3"), method=method)
    rec = Recording(inner)
    task, result = evaluate(MTEBEncoder(rec, batch_size=8), name)
    assert math.isfinite(result.get_score())
    symmetric = inner.method.symmetric_role  # "document" for kvembed, "query" for Echo (its official usage)
    want = {symmetric if r == "symmetric" else r for r in ROLES[task.metadata.type]}
    assert set(rec.roles) == want, (name, rec.roles)


@pytest.mark.integration
def test_a_job_encodes_each_text_once_and_scores_do_not_change(encoder):
    shared = Recording(encoder)
    model = MTEBEncoder(shared, batch_size=8)
    evaluate(model, "STSBRetrieval.proxy", limit=24)
    before = shared.n_texts
    _, reranking = evaluate(model, "STSBReranking.proxy", limit=120)  # the same 24 queries, other documents
    new_in_job = shared.n_texts - before
    alone = Recording(encoder)
    _, fresh = evaluate(MTEBEncoder(alone, batch_size=8), "STSBReranking.proxy", limit=120)
    assert new_in_job <= alone.n_texts - 24  # the queries were already encoded in this job
    assert reranking.get_score() == fresh.get_score()  # reuse changes nothing
    before = shared.n_texts
    evaluate(model, "STSBReranking.proxy", limit=120)
    assert shared.n_texts == before  # a second pass over the same texts encodes nothing


def test_stsbenchmark_on_the_dev_split_is_mtebs_task_fed_from_the_packaged_dev_file():
    from kvembed.data.stsb import load_stsb

    dev = get_task("STSBenchmark", data="local", split="validation")
    assert dev.metadata.name == "STSBenchmark" and list(dev.eval_splits) == ["validation"]
    assert list(dev.dataset) == ["validation"] and len(dev.dataset["validation"]) == 1500
    assert dev.dataset["validation"][0]["sentence1"] == load_stsb("dev")[0].sentence1
    test = get_task("STSBenchmark", data="local")
    assert list(test.eval_splits) == ["test"] and len(test.dataset["test"]) == 1379
    assert len(get_task("STSBenchmark", data="local", split="validation", limit=600).dataset["validation"]) == 600


@pytest.mark.parametrize("name", sorted(PROXY_TASKS))
def test_a_split_the_proxies_do_not_have_fails_naming_it(name):
    with pytest.raises(ValueError, match="has only a test split"):
        get_task(name, split="validation")
    with pytest.raises(ValueError, match="no split 'dev'"):
        get_task("STSBenchmark", data="local", split="dev")


def test_the_packaged_sts_b_and_the_data_folder_share_one_statistics_check(monkeypatch):
    """Both sources of real rows run kvembed.eval.tasks.statistics.check against mteb's statistics."""
    from kvembed.eval.tasks import local, offline, statistics

    assert offline.check is statistics.check and local.check is statistics.check
    want = statistics.sts_expected("STSBenchmark")
    monkeypatch.setattr(offline, "sts_expected", lambda name: dict(want, num_samples=want["num_samples"] + 1))
    with pytest.raises(statistics.DataCheckError, match="packaged STS-B files.*num_samples"):
        offline.stsbenchmark()
    assert issubclass(local.LocalDataError, statistics.DataCheckError)


def test_task_sources_are_one_ordered_registry(tmp_path, monkeypatch):
    from kvembed.eval.tasks import SOURCES, DataLocations, source_of

    monkeypatch.delenv("KVEMBED_DATA", raising=False)  # no data folder unless a job names one
    assert [s.name for s in SOURCES] == ["packaged", "local files", "proxies", "LoCoV1", "hub"]
    folder = DataLocations(str(tmp_path))
    assert source_of("STSBenchmark", DataLocations("local")).name == "packaged"
    assert source_of("STSBenchmark", folder).name == "packaged"
    assert source_of("STSBenchmark", DataLocations("hub")).name == "hub"  # the hub's copy when asked for
    assert source_of("STS12", folder).name == "local files" and source_of("STS12", DataLocations()).name == "hub"
    assert source_of("STS12", DataLocations("local")).name == "hub"  # local, but no data folder set
    assert source_of("STSBRetrieval.proxy", folder).name == "proxies"
    assert source_of("LoCoV1.qmsum", folder).name == "local files"
    fixture = DataLocations("tests/fixtures/locov1")  # a LoCoV1 copy: its tasks from it, the rest from the hub
    monkeypatch.setenv("KVEMBED_DATA", str(tmp_path))
    assert source_of("LoCoV1.qmsum", fixture).name == "LoCoV1" and source_of("STS12", fixture).name == "hub"
    assert source_of("STS12", DataLocations("hub")).name == "hub"  # the hub means the hub, data folder or not
    assert source_of("STS12", DataLocations("local")).name == "local files"


def test_the_data_setting_keys_results_as_the_three_settings_it_replaced():
    from kvembed.eval.tasks import DataLocations

    # (offline_data, data_dir): what every committed row's key was made of, so no row changes its key
    assert DataLocations("hub").key() == {"offline_data": False, "data_dir": None}
    assert DataLocations("local").key() == {"offline_data": True, "data_dir": None}
    fixture = "tests/fixtures/locov1"
    assert DataLocations(fixture).key() == {"offline_data": False, "data_dir": fixture}


def test_a_data_setting_that_names_no_folder_is_refused():
    from kvembed.eval.tasks import DataLocations

    with pytest.raises(ValueError, match=r"benchmark.data='/no/such/folder': no such folder"):
        DataLocations("/no/such/folder").key()
