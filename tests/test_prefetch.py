"""``make prefetch``: it reads the benchmark configs where they live (inside the package) and names the
tasks of each; a moved config folder or an unknown benchmark is a clear error, never a crash. Its real path
against the rehearsal hub (pin the commit, runs load and record it) is checked by the rehearsal slice
(``tests/test_rehearsal.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import prefetch  # noqa: E402

sys.path.pop(0)


def test_prefetch_reads_the_package_benchmark_configs():
    tasks = prefetch.benchmark_tasks("mteb_table1")
    assert len(tasks) == 25 and {"STS12", "SciFact", "SummEval"} <= set(tasks)
    assert prefetch.benchmark_tasks("sts") == ["STS12", "STS13", "STS14", "STS15", "STS16", "STSBenchmark", "SICK-R",
                                              "BIOSSES"]


def test_an_unknown_benchmark_is_named():
    with pytest.raises(SystemExit, match="no benchmark config 'nope'"):
        prefetch.benchmark_tasks("nope")


def test_pins_go_to_one_lock_file_beside_the_hub_cache_and_named_backbones_load_them(tmp_path, monkeypatch):
    from kvembed import backbones, pins

    monkeypatch.delenv(pins.ENV, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    assert pins.lock_path() == tmp_path / "hub" / "kvembed-revisions.json"
    pins.write_pins({"qwen3-4b": "abc123"})
    pins.write_pins({"mistral-7b": "def456"})  # earlier pins stay
    assert pins.read_pins() == {"qwen3-4b": "abc123", "mistral-7b": "def456"}
    asked = []
    monkeypatch.setattr(backbones, "_ensure_hub_available", lambda hub_id, revision: asked.append(revision))
    assert backbones.locate("qwen3-4b")[2] == "abc123"  # no revision given: the pin
    assert backbones.locate("qwen3-4b", revision="other")[2] == "other"  # an explicit revision wins
    assert asked == ["abc123", "other"]
    monkeypatch.setenv(pins.ENV, str(tmp_path / "elsewhere.json"))
    assert pins.read_pins() == {}
    (tmp_path / "elsewhere.json").write_text("{not json")
    with pytest.raises(ValueError, match="elsewhere.json is unreadable"):
        pins.read_pins()


class GatedRepoError(Exception):
    """Stands for huggingface_hub's error of that name (the class name is what prefetch reads)."""


@pytest.mark.parametrize("error, why", [
    (GatedRepoError("401 Client Error: access to model meta-llama/Llama-3.1-8B is restricted"), "it is gated"),
    (OSError("Cannot reach https://huggingface.co"), "cannot be reached"),
    ("offline", "the hub is switched off"),
])
def test_a_failed_download_ends_in_one_line_and_pins_nothing(tmp_path, monkeypatch, error, why):
    import huggingface_hub

    from kvembed import pins

    monkeypatch.setenv(pins.ENV, str(tmp_path / "pins.json"))
    if error == "offline":  # what huggingface_hub itself raises with HF_HUB_OFFLINE=1 and nothing cached
        from huggingface_hub.errors import LocalEntryNotFoundError

        error = LocalEntryNotFoundError("Cannot find the requested files in the disk cache and outgoing traffic "
                                        "has been disabled.")

    def download(repo, revision=None, allow_patterns=None):
        if repo.startswith("meta-llama"):
            raise error
        return f"/cache/models--x/snapshots/{repo[-3:]}"

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    with pytest.raises(SystemExit) as exit_:
        prefetch.main(["--pin", "--backbones", "qwen3-4b", "llama-3.1-8b", "--benchmarks"])
    message = str(exit_.value)
    assert "\n" not in message and message.startswith("prefetch: could not fetch backbone llama-3.1-8b")
    assert why in message and "To do:" in message and "Nothing was pinned" in message
    assert not (tmp_path / "pins.json").exists()  # qwen3-4b was fetched, but no partial pin is written


def test_prefetch_runs_over_every_task_of_a_benchmark(monkeypatch, capsys):
    import huggingface_hub

    from kvembed.eval import tasks

    seen = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo, revision=None, allow_patterns=None: f"/cache/models--x/snapshots/{repo[-3:]}")
    monkeypatch.setattr(tasks, "load_task_data", lambda task: seen.append(task.metadata.name))
    prefetch.main(["--backbones", "qwen3-4b", "--benchmarks", "sts"])
    out = capsys.readouterr().out
    assert "qwen3-4b: Qwen/Qwen3-4B" in out and "(revision -4B)" in out
    assert seen == prefetch.benchmark_tasks("sts")
