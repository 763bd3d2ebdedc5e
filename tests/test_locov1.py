"""LoCoV1 tasks on the offline fixture, and long inputs (4,096 tokens) on the tiny models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from kvembed import Encoder, forward
from kvembed.eval.tasks import get_task
from kvembed.eval.tasks.locov1 import LOCOV1_TASKS, SUBSETS
from kvembed.harness.run import run
from kvembed.overrides import configure
from kvembed.report import tables

FIXTURE = str(Path(__file__).parent / "fixtures" / "locov1")


def test_twelve_tasks_and_the_loader_layout():
    assert len(LOCOV1_TASKS) == 12 and len(SUBSETS) == 12
    task = get_task("LoCoV1.qmsum", data=FIXTURE)
    task.load_data()
    split = task.dataset["default"]["test"]
    assert len(split["queries"]) == 3
    assert len(split["corpus"]) == 4  # the document whose passage is None is dropped
    assert all(len(v) == 1 and set(v.values()) == {1} for v in split["relevant_docs"].values())


@pytest.mark.integration
def test_locov1_fixture_runs_end_to_end_and_renders_the_length_table(tmp_path, compose):
    overrides = ["backbone=tiny-qwen3", "benchmark=locov1_fixture", f"benchmark.data={FIXTURE}",
                 "benchmark.tasks=[LoCoV1.qmsum,LoCoV1.gov_report]", "layers=explicit", "layers.layers=[3]",
                 "logger=none", f"results_dir={tmp_path}", "batch_size=4"]
    for length in (256, 1024):
        df = run(compose([*overrides, f"max_length={length}"]))
        assert set(df.loc[df["is_main"], "metric"]) == {"main_score"}
        assert df.loc[df["metric"] == "ndcg_at_10", "value"].between(0, 1).all()
    tables.render(tmp_path)
    loco = (tmp_path / "locov1.md").read_text()
    assert "256 tok" in loco and "1024 tok" in loco and "kvembed" in loco


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen3"])
def test_a_4096_token_input_keeps_the_suffix_and_both_paths_agree(arch, tiny_backbones):
    bb = tiny_backbones(arch)
    text = " ".join(["the quick brown fox jumps over the lazy dog"] * 1200)
    spec = configure("kvembed", layers=[1, 4])
    enc = Encoder(bb, spec, max_length=4096)
    (e,) = enc.tokenize([text])
    assert len(e.ids) == 4096 and e.truncated
    suffix = bb.tokenizer(" Compress the Context in one word:", add_special_tokens=False)["input_ids"]
    assert list(e.ids[-len(suffix):]) == suffix
    # one row: padding is the flat/masked tests' subject at short lengths; a padded 4,096-token batch
    # costs five times as much on the CPU (SDPA's explicit-mask path)
    batch = forward.make_batch([e], bb.tokenizer.pad_token_id, "right")
    recipes = {impl: replace(enc.recipe, routing=replace(enc.recipe.routing, impl=impl)) for impl in ("flat", "masked")}
    outs = {impl: forward.run(bb.model, batch, r).last_hidden_state for impl, r in recipes.items()}
    m = batch.real
    assert float((outs["flat"][m] - outs["masked"][m]).abs().max()) < 1e-5
    assert torch.isfinite(outs["flat"][m]).all()
