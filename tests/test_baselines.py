"""Every baseline equals an independent, line-by-line re-implementation of its official code
(``tests/reference_baselines.py``) on tiny Llama and Qwen3 (and Mistral for Echo): same templates, same
tokenisation, same layers, same pooled span. kvembed pads on the right and reads each row's last real
token; the official code pads on the left (pad id 0) and reads index -1 — the embeddings must agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kvembed import Encoder
from kvembed.methods import get_method
from kvembed.methods.base import ContrastivePrompting, TokenPrepending
from tests import reference_baselines as ref

SENTENCES = [
    "A girl is styling her hair.",
    "Is a group of men playing soccer on the beach while the sun sets?",
    'One woman said "stop" to another',
    "Stocks fell sharply on Monday after the central bank raised interest rates again.",
    "A cat.",
]
TOL = 1e-4


def ours(backbone, method, texts=SENTENCES, role="document", **overrides) -> np.ndarray:
    spec = get_method(method)
    if overrides:
        from dataclasses import replace
        spec = replace(spec, **overrides)
    return Encoder(backbone, spec, normalize=False).encode(texts, prompt_type=role, batch_size=3)


def close(a: np.ndarray, b: torch.Tensor) -> float:
    b = b.float().numpy()
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("method, prompt", [
    ("prompteol", 'This sentence : "*sent 0*" means in one word:"'),
    ("pretcot", 'After thinking step by step , this sentence : "*sent 0*" means in one word:"'),
    ("ke", "The essence of a sentence is often captured by its main subjects and actions, while descriptive "
           "terms provide additional but less central details. With this in mind , this sentence : "
           '"*sent 0*" means in one word:"'),
])
def test_prompteol_family_matches_the_reference_batcher(arch, method, prompt, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    want = ref.prompteol_family(stock.model, stock.tokenizer, SENTENCES, prompt)
    assert close(ours(bb, method), want) < TOL


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("tp", [TokenPrepending(), TokenPrepending(start=1, stop=4, output_layer=-2),
                                TokenPrepending(start=2, stop=5, output_layer=6)], ids=["default", "1-4", "2-5"])
def test_token_prepending_matches_the_official_forward(arch, tp, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    got = ours(bb, "token_prepending", token_prepending=tp)
    values = tp.settings(bb.source, bb.name, bb.num_layers).values
    want = ref.token_prepending(stock.model, stock.tokenizer, SENTENCES,
                                'This sentence : <PST> "*sent 0*" means in one word:"',
                                values["start"], values["stop"], values["output_layer"], tp.seed)
    assert close(got, want) < TOL
    # and TP is not a no-op: without the replacement the states differ
    plain = ref.token_prepending(stock.model, stock.tokenizer, SENTENCES,
                                 'This sentence : <PST> "*sent 0*" means in one word:"',
                                 0, 0, values["output_layer"], tp.seed)
    assert close(got, plain) > 1e-3


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("cp", [ContrastivePrompting(), ContrastivePrompting(layer=2, coeff=0.25, output_layer=-2)],
                         ids=["default", "layer2"])
def test_contrastive_prompting_matches_the_official_intervention(arch, cp, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    got = ours(bb, "cp", contrastive=cp)
    v = cp.settings(bb.source, bb.name, bb.num_layers).values
    want = ref.contrastive_prompting(stock.model, stock.tokenizer, SENTENCES, v["layer"], v["coeff"], v["output_layer"])
    assert close(got, want) < TOL
    plain = ref.prompteol_family(stock.model, stock.tokenizer, SENTENCES,
                                 'This sentence : "*sent 0*" means in one word:"', v["output_layer"])
    assert close(got, plain) > 1e-3  # the steering changes the embedding


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen3"])
@pytest.mark.parametrize("role, template", [
    ("document", "{bos}Document:{{!%%text%%}}\nDocument again:{{%%text%%}}{{{eos}}}"),
    ("query", "{bos}Query:{{!%%text%%}}\nQuery again:{{%%text%%}}{{{eos}}}"),
])
def test_echo_matches_echo_parser_and_pooling(arch, role, template, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    tok = stock.tokenizer
    adds_bos = tok("x")["input_ids"][0] == tok.bos_token_id
    filled = template.format(bos=tok.bos_token if adds_bos else "", eos=tok.eos_token)
    want = ref.echo(stock.model, tok, SENTENCES, filled)
    assert close(ours(bb, "echo", role=role), want) < TOL


def test_echo_uses_the_query_template_on_symmetric_tasks():
    assert get_method("echo").symmetric_role == "query"
    assert get_method("prompteol").symmetric_role == "document"


def test_cp_and_tp_run_from_the_public_api(tiny_backbones):
    for method in ("cp", "token_prepending", "token_prepending_pretcot", "token_prepending_ke"):
        enc = Encoder.from_pretrained(tiny_backbones("llama"), method=method)
        emb = enc.encode(SENTENCES)
        assert emb.shape == (len(SENTENCES), enc.dim) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
        info = enc.describe()
        assert info["output_layer"] is not None and info["baseline_settings_source"]


def test_settings_come_from_the_official_tables_with_their_source():
    tp = TokenPrepending().settings("meta-llama/Llama-3.1-8B", "llama-3.1-8b", 32)
    assert tp.values == {"start": 1, "stop": 3, "output_layer": -2}
    assert "llama-3-8b-tp" in tp.source and tp.source.startswith("inferred: nearest family")
    tp2 = TokenPrepending().settings("meta-llama/Llama-2-7b-hf", "llama-2-7b", 32)
    assert tp2.values == {"start": 1, "stop": 7, "output_layer": 27} and not tp2.source.startswith("inferred")
    scaled = TokenPrepending().settings("HuggingFaceTB/SmolLM2", "smollm2-135m", 30)
    assert scaled.values == {"start": 1, "stop": 7, "output_layer": 25} and "scaled from 32 to 30" in scaled.source
    cp = ContrastivePrompting().settings("meta-llama/Llama-3.1-8B", "llama-3.1-8b", 32)
    assert cp.values == {"layer": 6, "coeff": 0.25, "output_layer": -2}
    explicit = TokenPrepending(start=2, stop=4, output_layer=-1).settings("x", "y", 6)
    assert explicit.source == "explicit configuration"
    with pytest.raises(ValueError, match="start < stop"):
        TokenPrepending(start=3, stop=2).settings("x", "y", 6)
    with pytest.raises(ValueError, match="output_layer"):
        TokenPrepending(output_layer=40).settings("x", "y", 6)
    with pytest.raises(ValueError, match="Contrastive Prompting layer"):
        ContrastivePrompting(layer=9).settings("x", "y", 6)
