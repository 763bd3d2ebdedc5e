"""``make prefetch``: it reads the benchmark configs where they live (inside the package) and names the
tasks of each; a moved config folder or an unknown benchmark is a clear error, never a crash."""

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


@pytest.mark.integration
def test_prefetch_pins_the_rehearsal_hubs_commit_and_the_run_loads_that_commit_with_the_hub_off(tmp_path):
    """The real path, hub switched off: the backbone under its real hub id in a hub cache (the rehearsal
    hub), ``prefetch --pin`` resolves and writes its commit, and loading by name gets the real architecture."""
    import os
    import shutil
    import subprocess

    from kvembed.harness.rehearsal import build_hub
    from kvembed.harness.run import CONFIG_DIR

    commit = build_hub(tmp_path / "hub", ["Qwen/Qwen3-4B"])["Qwen/Qwen3-4B"]
    shutil.copytree(Path(CONFIG_DIR) / "backbone", tmp_path / "configs" / "backbone")
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    script = Path(__file__).resolve().parents[1] / "scripts" / "prefetch.py"
    out = subprocess.run([sys.executable, str(script), "--pin", "--config-dir", str(tmp_path / "configs"),
                          "--backbones", "qwen3-4b", "--benchmarks"], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"(revision {commit}; pinned in" in out.stdout
    assert f"revision: {commit}\n" in (tmp_path / "configs" / "backbone" / "qwen3-4b.yaml").read_text()
    probe = ("from kvembed.backbones import load_backbone; import sys; "
             "b = load_backbone('qwen3-4b', revision=sys.argv[1], dtype='float32', device='cpu'); c = b.model.config; "
             "print(type(b.model).__name__, c.num_attention_heads, c.num_key_value_heads, c.head_dim, "
             "b.tokenizer.convert_ids_to_tokens(b.tokenizer('A cat.')['input_ids'][0]))")
    loaded = subprocess.run([sys.executable, "-c", probe, commit], env=env, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.split()[-5:] == ["Qwen3Model", "4", "1", "128", "A"]  # 4:1 at head_dim 128; no BOS
    # loaded by name without a revision (offline, from the cache), the run records the commit it loaded
    unpinned = subprocess.run([sys.executable, "-c", "from kvembed.backbones import load_backbone; "
                               "print(load_backbone('qwen3-4b', dtype='float32', device='cpu').revision)"],
                              env=env, capture_output=True, text=True)
    assert unpinned.returncode == 0, unpinned.stderr[-2000:]
    assert unpinned.stdout.split()[-1] == commit
