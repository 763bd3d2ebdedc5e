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


def test_pin_writes_the_resolved_revision_into_the_backbone_config(tmp_path, monkeypatch):
    (tmp_path / "backbone").mkdir()
    cfg = tmp_path / "backbone" / "qwen3-4b.yaml"
    cfg.write_text("# Qwen3-4B\nname: qwen3-4b\nrevision: null\ndtype: auto\n")
    monkeypatch.setattr(prefetch, "CONFIG_DIR", str(tmp_path))
    prefetch.pin("qwen3-4b", "abc123")
    assert cfg.read_text() == "# Qwen3-4B\nname: qwen3-4b\nrevision: abc123\ndtype: auto\n"


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
