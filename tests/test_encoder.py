"""The public Encoder API: shapes, order, batching, padding, every method, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from kvembed import METHOD_NAMES, Encoder, forward
from kvembed.overrides import configure


@pytest.fixture(scope="module")
def llama(tiny_backbones):
    return tiny_backbones("llama")


def test_encode_returns_unit_float32_rows(llama, sentences):
    emb = Encoder(llama, _method("kvembed", layers=[2, 3])).encode(sentences)
    assert emb.dtype == np.float32 and emb.shape == (len(sentences), llama.hidden_size)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def _method(name, **overrides):
    return configure(name, **overrides)


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen3"])
def test_order_batch_size_and_padding_side_do_not_change_embeddings(arch, tiny_backbones, sentences):
    bb = tiny_backbones(arch)
    spec = _method("kvembed", layers=[1, 2])
    ref = Encoder(bb, spec).encode(sentences, batch_size=1)
    perm = [3, 0, 4, 2, 1]
    for bs in (2, 5):
        for side in ("right", "left"):
            got = Encoder(bb, spec, padding_side=side).encode([sentences[i] for i in perm], batch_size=bs)
            np.testing.assert_allclose(got, ref[perm], atol=2e-5)


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_every_method_encodes(method, llama, sentences):
    layers = {"layers": [2, 3]} if "kvembed" in method else {}
    enc = Encoder(llama, _method(method, **layers))
    emb = enc.encode(sentences, batch_size=2)
    assert emb.shape == (len(sentences), llama.hidden_size) and np.isfinite(emb).all()
    assert enc.describe()["method"] == method


def test_methods_differ_from_each_other(llama, sentences):
    embs = {m: Encoder(llama, _method(m, **({"layers": [2, 3]} if "kvembed" in m else {}))).encode(sentences)
            for m in METHOD_NAMES}
    names = list(embs)
    # by design: on a backbone no official TP entry names, TP runs the Llama-2 entry's pairing (PromptEOL)
    same = {("token_prepending", "token_prepending_prompteol"),
            # 6 layers: Llama-2-7B's output layer 27 of 32 scaled is 5, which is hidden_states[-2] here
            ("token_prepending", "token_prepending_depth_scaled"), ("cp", "cp_depth_scaled"),
            ("token_prepending_depth_scaled", "token_prepending_prompteol")}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if (a, b) in same:
                assert np.allclose(embs[a], embs[b], atol=1e-6)
            else:
                assert not np.allclose(embs[a], embs[b], atol=1e-4), f"{a} and {b} give the same embeddings"


def test_query_and_document_prompts_differ(llama, sentences):
    enc = Encoder(llama, _method("kvembed", layers=[2]))
    assert not np.allclose(enc.encode(sentences, prompt_type="query"), enc.encode(sentences), atol=1e-4)


def test_token_prepending_overwrites_the_placeholder_state(llama, sentences):
    enc = Encoder(llama, _method("token_prepending"))
    assert enc.recipe.tp.layers == range(1, 2)  # Llama-2-7B's layers 1-7 of 32, scaled to 6 layers (at least one)
    assert enc.recipe.output_layer == -2  # no official entry: the penultimate layer, as the authors read elsewhere
    batch = next(enc._batches(sentences, "document", 8, "", False))[1]
    seen = {}
    norm = forward.decoder_layers(llama.model)[1].input_layernorm  # sees the block's (modified) input

    def record(module, args):
        seen["h"] = args[0].clone()

    handle = norm.register_forward_pre_hook(record)
    try:
        forward.run(llama.model, batch, enc.recipe)
    finally:
        handle.remove()
    rows = torch.arange(len(sentences))
    h = seen["h"]
    assert torch.equal(h[rows, batch.pst_index], h[rows, batch.last_index])


def test_mean_pooling_leaves_out_the_bos_state_unless_asked(llama, sentences):
    from dataclasses import replace

    spec = _method("mean")
    enc = Encoder(llama, spec, normalize=False)
    batch = next(enc._batches(sentences[:1], "document", 8, "", False))[1]
    h = forward.run(llama.model, batch).last_hidden_state[0]
    assert batch.input_ids[0, 0] == llama.tokenizer.bos_token_id
    assert np.allclose(enc.encode(sentences[:1])[0], h[1:].mean(0).numpy(), atol=1e-6)
    with_bos = Encoder(llama, replace(spec, mean_with_specials=True), normalize=False)
    assert np.allclose(with_bos.encode(sentences[:1])[0], h.mean(0).numpy(), atol=1e-6)


def test_auto_layers_are_chosen_from_the_id_curve_and_recorded(llama, tmp_path, monkeypatch):
    monkeypatch.setenv("KVEMBED_CACHE", str(tmp_path))
    enc = Encoder(llama, _method("kvembed", layers={"strategy": "auto", "n_samples": 200}))
    info = enc.describe()
    assert len(info["id_curve"]) == llama.num_layers
    assert info["layers"] == list(enc.layers) and len(enc.layers) == 1  # floor(0.1 * 6) -> 1 layer
    first = int(np.floor(0.2 * llama.num_layers))
    curve = np.array(info["id_curve"])
    assert enc.layers[0] == first + int(np.nanargmin(curve[first:]))


# ------------------------------------------------------------------ bad input
def test_empty_list_gives_an_empty_matrix(llama):
    assert Encoder(llama, _method("last")).encode([]).shape == (0, llama.hidden_size)


@pytest.mark.parametrize("bad, where", [(["ok", None], r"texts\[1\]"), (["ok", "fine", 3], r"texts\[2\]"),
                                        ([b"bytes"], r"texts\[0\]")])
def test_non_strings_are_named_by_index(llama, bad, where):
    with pytest.raises(TypeError, match=where):
        Encoder(llama, _method("last")).encode(bad)


def test_a_bare_string_is_rejected_with_advice(llama):
    with pytest.raises(TypeError, match="wrap a single text"):
        Encoder(llama, _method("last")).encode("just one")


def test_empty_strings_are_encoded_as_the_prompt(llama, tiny_backbones):
    emb = Encoder(llama, _method("prompteol")).encode(["", "text"])
    assert np.isfinite(emb).all()
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        Encoder(tiny_backbones("qwen3"), _method("last")).encode(["x", ""])  # no BOS: nothing to encode


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="colbert"), "Unknown method 'colbert'; choose one of"),
    (dict(method="kvembed", pooling="max"), "Unknown pooling 'max'"),
    (dict(method="kvembed", layers=[0, 99]), r"out of range.*0\.\.5"),
    (dict(method="kvembed", layers=[1], bias="high"), "bias must be a number"),
    (dict(method="kvembed", layers=[1], routing_impl="fast"), "routing_impl must be one of"),
    (dict(method="kvembed", prompt={"passage": "{text}"}), "Prompt roles"),
    (dict(method="kvembed", prompt="no slot"), "no {text}"),
    (dict(method="last", max_length=0), "positive integer"),
    (dict(method="last", padding_side="middle"), "padding_side"),
    (dict(method="last", temperature=2), "Unknown option"),
])
def test_bad_configuration_fails_with_a_clear_message(llama, kwargs, message):
    with pytest.raises(ValueError, match=message):
        Encoder.from_pretrained(llama, **kwargs)


def test_bad_encode_arguments(llama):
    enc = Encoder(llama, _method("last"))
    with pytest.raises(ValueError, match="prompt_type"):
        enc.encode(["x"], prompt_type="passage")
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode(["x"], batch_size=0)


def test_over_long_texts_are_truncated_not_rejected(llama):
    enc = Encoder(llama, _method("kvembed", layers=[2]), max_length=32)
    emb = enc.encode(["word " * 5000, "short"])
    assert np.isfinite(emb).all()


# ------------------------------------------------------------------ CLI
@pytest.mark.integration
def test_cli_encodes_a_text_file_and_jsonl(tmp_path, capsys):
    from kvembed.cli import main

    txt = tmp_path / "in.txt"
    txt.write_text("A girl is styling her hair.\nA man plays guitar.\n")
    jl = tmp_path / "in.jsonl"
    jl.write_text("\n".join(json.dumps({"text": t}) for t in ["one", "two", "three"]) + "\n")
    args = ["encode", "--model", "tiny-llama", "--method", "prompteol"]
    # the installed entry point once, as a user runs it; the other cases through the same main() in this process
    subprocess.run([sys.executable, "-m", "kvembed.cli", *args, "--input", str(txt), "--output",
                    str(tmp_path / "in.npy")], check=True, capture_output=True)
    main([*args, "--input", str(jl), "--output", str(tmp_path / "jl.npy")])
    assert np.load(tmp_path / "in.npy").shape == (2, 64) and np.load(tmp_path / "jl.npy").shape == (3, 64)
    with pytest.raises(SystemExit) as bad:
        main(["encode", "--model", "tiny-llama", "--method", "nope", "--input", str(txt), "--output",
              str(tmp_path / "x.npy")])
    assert bad.value.code == 2 and "Unknown method 'nope'" in capsys.readouterr().err
