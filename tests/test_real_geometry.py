"""The paper's three backbones at their real width and head layout (slow tier).

Each model is its published configuration (``scripts/rehearsal.py.PUBLISHED``: hidden size, MLP
width, 32 query / 8 KV heads of 128 dimensions, Qwen3's q/k-norm, Mistral's sliding window, Llama-3.1's
``llama3`` RoPE scaling, tied or untied embeddings) with two layers, a reduced vocabulary and random
weights. At that geometry: re-routing equals the independent reference in fp32 (both paths, both padding
sides, and prefix re-rotation, which must use the scaled frequencies), bf16 agrees with fp32, embeddings
do not depend on batch-mates or padding, and a 4,096-token input goes through the flat path in no more
memory than the plain forward (x1.05).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kvembed import Encoder, forward
from kvembed.backbones import load_backbone
from scripts.rehearsal import build_model, config_dict, full_width
from tests import reference
from tests.test_rerouting import make_batch, real_max_diff, run_ours

pytestmark = pytest.mark.slow

PAPER = ["Qwen/Qwen3-4B", "mistralai/Mistral-7B-v0.1", "meta-llama/Llama-3.1-8B"]
LAYERS = (1,)  # of two: the second layer re-routes, the first stays stock
TOL = 1e-5  # relative to the largest state, in fp32


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    built: dict[str, Path] = {}

    def get(hub_id: str) -> Path:
        if hub_id not in built:
            built[hub_id] = build_model(hub_id, tmp_path_factory.mktemp("geometry") / "model", dtype="float32",
                                        **full_width(hub_id))
        return built[hub_id]

    return get


def _rope(model) -> tuple[float, dict | None]:
    params = dict(model.config.rope_parameters)
    return params["rope_theta"], (params if params.get("rope_type") not in (None, "default") else None)


@pytest.mark.parametrize("hub_id", PAPER)
def test_the_stand_in_has_the_published_geometry(hub_id, folders):
    cfg = json.loads((folders(hub_id) / "config.json").read_text())
    published = config_dict(hub_id)
    for key in ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim",
                "tie_word_embeddings", "sliding_window", "architectures"):
        assert cfg.get(key) == published.get(key), key
    rope = cfg["rope_parameters"]  # transformers 5 writes rope_theta and rope_scaling as one dict
    assert rope["rope_theta"] == published["rope_theta"]
    assert rope["rope_type"] == (published.get("rope_scaling") or {}).get("rope_type", "default")
    if hub_id.startswith("meta-llama"):
        assert rope["factor"] == 8.0 and rope["original_max_position_embeddings"] == 8192


@pytest.mark.parametrize("hub_id", PAPER)
@pytest.mark.parametrize("side", ["right", "left"])
def test_rerouting_equals_the_reference_at_real_geometry(hub_id, side, folders, sentences):
    reference.register()
    ours = load_backbone(str(folders(hub_id)), dtype="float32", device="cpu")
    stock = load_backbone(str(folders(hub_id)), dtype="float32", device="cpu", attn_implementation="sdpa")
    ref = load_backbone(str(folders(hub_id)), dtype="float32", device="cpu", attn_implementation=reference.NAME)
    batch = make_batch(ours, sentences, side)
    with torch.inference_mode():
        plain = stock.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                            position_ids=batch.position_ids, use_cache=False).last_hidden_state
    assert torch.equal(forward.run(ours.model, batch).last_hidden_state, plain)  # off: the stock model, bit for bit
    theta, scaling = _rope(ours.model)
    for routing, ctx in (({}, reference.RefContext(batch.real, frozenset(LAYERS), 1.0)),
                         ({"prefix_position": 0}, reference.RefContext(batch.real, frozenset(LAYERS), 1.0,
                                                                       prefix_position=0, rope_theta=theta,
                                                                       rope_scaling=scaling))):
        want = reference.reference_forward(ref.model, batch, ctx)
        scale = float(want[batch.real].abs().max())
        for impl in ("flat", "masked"):
            got = run_ours(ours, batch, LAYERS, impl=impl, **routing)
            assert real_max_diff(got, want, batch) / scale < TOL, (impl, routing)
        assert real_max_diff(plain, want, batch) / scale > 100 * TOL  # re-routing changed something


@pytest.mark.parametrize("hub_id", PAPER)
def test_bf16_agrees_with_fp32_and_embeddings_ignore_batch_mates_and_padding(hub_id, folders, sentences):
    folder = str(folders(hub_id))
    fp32 = {side: Encoder.from_pretrained(folder, method="kvembed", layers=list(LAYERS), dtype="float32",
                                          device="cpu", padding_side=side) for side in ("right", "left")}
    together = fp32["right"].encode(sentences, batch_size=len(sentences))
    alone = np.stack([fp32["right"].encode([t])[0] for t in sentences])
    left = fp32["left"].encode(sentences, batch_size=len(sentences))
    assert np.abs(together - alone).max() < 1e-5 and np.abs(together - left).max() < 1e-5
    bf16 = Encoder.from_pretrained(folder, method="kvembed", layers=list(LAYERS), dtype="bfloat16", device="cpu")
    cosine = (bf16.encode(sentences) * together).sum(axis=1)  # both L2-normalised
    # bf16 keeps 8 bits of mantissa: per-element relative error ~4e-3, so unit vectors agree to ~1e-2
    assert cosine.min() > 0.99, cosine


PEAK = """
import sys, torch
from dataclasses import replace
from kvembed import forward
from kvembed.backbones import load_backbone
from kvembed.layers import parse_layers
from kvembed.methods.base import Routing
from kvembed.methods.kvembed import KVEMBED
from kvembed.prompts import Encoded
from kvembed.recipe import resolve
torch.set_num_threads(2)
folder, mode = sys.argv[1], sys.argv[2]
bb = load_backbone(folder, dtype="float32", device="cpu")
ids = tuple(torch.randint(10, 1000, (4096,), generator=torch.Generator().manual_seed(0)).tolist())
batch = forward.make_batch([Encoded(ids, (0, len(ids)), None, False)], bb.tokenizer.pad_token_id, "right")
recipe = None if mode == "plain" else resolve(replace(KVEMBED, routing=Routing(layers=parse_layers([1]), impl="flat")),
                                              bb.facts)
def status(key):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key + ":"))
with open("/proc/self/clear_refs", "w") as f:  # reset the peak RSS (VmHWM) after the model load
    f.write("5")
base = status("VmRSS")
forward.run(bb.model, batch, recipe)
print(status("VmHWM") - base)
"""


@pytest.mark.parametrize("hub_id", ["meta-llama/Llama-3.1-8B"])
def test_a_4096_token_input_takes_the_flat_path_in_the_plain_forwards_memory(hub_id, folders):
    """Each forward in a fresh process (freed pages are not reused across the two), its peak RSS above what
    the loaded model holds (the peak is reset after loading, /proc/self/clear_refs), in KiB."""
    added = {}
    for mode in ("plain", "flat"):
        out = subprocess.run([sys.executable, "-c", PEAK, str(folders(hub_id)), mode], capture_output=True,
                             text=True, cwd=Path(__file__).resolve().parents[1])
        assert out.returncode == 0, out.stderr[-2000:]
        added[mode] = int(out.stdout.strip().splitlines()[-1])
    assert added["plain"] > 4096 * 4096 * 4 / 1024  # at least one (S, hidden) fp32 state was counted
    assert added["flat"] <= 1.05 * added["plain"], added
