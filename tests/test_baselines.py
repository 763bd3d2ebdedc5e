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
from kvembed.overrides import configure
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


def ours_with(backbone, method, max_length=512, **kw) -> Encoder:
    return Encoder(backbone, get_method(method), normalize=False, max_length=max_length)


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_prompteol_matches_the_reference_batcher(arch, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    want = ref.prompteol_family(stock.model, stock.tokenizer, SENTENCES,
                                'This sentence : "*sent 0*" means in one word:"')
    assert close(ours(bb, "prompteol"), want) < TOL


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("method, prompt", [("pretcot", "Pretended_CoT"), ("ke", "Knowledge_Enhancement")])
def test_pretcot_and_ke_match_their_authors_batcher_at_the_penultimate_layer(arch, method, prompt, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    got = ours(bb, method)
    assert close(got, ref.pretcot_ke_batcher(stock.model, stock.tokenizer, SENTENCES, prompt)) < TOL
    # the layer matters: the final normed state is a different embedding
    final = ref.pretcot_ke_batcher(stock.model, stock.tokenizer, SENTENCES, prompt, direct_inference=False)
    assert close(got, final) > 1e-3
    assert Encoder(bb, get_method(method)).describe()["output_layer"] == -2


# which official entry each tiny backbone's TP settings come from (tiny-llama: none, so Llama-2's, scaled)
TP_ENTRY = {"llama": "llama-2-7b-tp", "qwen3": "qwen2-7b-tp"}


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
@pytest.mark.parametrize("tp", [TokenPrepending(paired_prompt=True),
                                TokenPrepending(start=1, stop=4, output_layer=-2, paired_prompt=True),
                                TokenPrepending(start=2, stop=5, output_layer=6, paired_prompt=True)],
                         ids=["default", "1-4", "2-5"])
def test_token_prepending_runs_the_official_entrys_pairing(arch, tp, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    got = ours(bb, "token_prepending", token_prepending=tp)
    values = tp.settings(bb.source, bb.name, bb.num_layers).values
    prompt = ref.TP_PROMPTS[ref.TP_CONFIG[TP_ENTRY[arch]][3]]
    want = ref.token_prepending(stock.model, stock.tokenizer, SENTENCES, prompt,
                                values["start"], values["stop"], values["output_layer"], tp.seed)
    assert close(got, want) < TOL
    # and TP is not a no-op: without the replacement the states differ
    plain = ref.token_prepending(stock.model, stock.tokenizer, SENTENCES, prompt, 0, 0, values["output_layer"], tp.seed)
    assert close(got, plain) > 1e-3


@pytest.mark.parametrize("method, prompt_method", [("token_prepending_prompteol", "prompteol"),
                                                   ("token_prepending_pretcot", "cot"), ("token_prepending_ke", "ke")])
def test_token_prepending_variants_keep_their_prompt_on_every_backbone(method, prompt_method, tiny_backbones):
    bb, stock = tiny_backbones("qwen3"), tiny_backbones("qwen3", "sdpa")
    start, stop, output_layer, _ = ref.TP_CONFIG["qwen2-7b-tp"]
    want = ref.token_prepending(stock.model, stock.tokenizer, SENTENCES, ref.TP_PROMPTS[prompt_method],
                                start, stop, output_layer)
    assert close(ours(bb, method), want) < TOL


def test_token_prepending_records_its_pairing(tiny_backbones):
    info = Encoder(tiny_backbones("qwen3"), get_method("token_prepending")).describe()
    assert info["prompt_document"].startswith("After thinking step by step , this sentence : {pst}")
    assert info["tp_layers"] == [1, 6] and info["output_layer"] == -2
    assert "qwen2-7b-tp" in info["baseline_settings_source"]
    llama = Encoder(tiny_backbones("llama"), get_method("token_prepending")).describe()
    assert llama["prompt_document"].startswith("This sentence : {pst}")
    # an explicit prompt ends the pairing
    spec = configure("token_prepending", prompt='This one : {pst} "{text}" means in one word:"')
    assert Encoder(tiny_backbones("qwen3"), spec).describe()["prompt_document"].startswith("This one")


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


def official_template(tok, template: str) -> str:
    """An echo-embeddings template with the tokenizer's own ``<s>`` (where it adds one) and ``</s>``."""
    adds_bos = tok("x")["input_ids"][0] == tok.bos_token_id
    return template.format(bos=tok.bos_token if adds_bos else "", eos=tok.eos_token)


# the zero-shot prompt the author confirms (jakespringer/echo-embeddings issue #8), written in EchoParser's
# template language: a `!` piece is seen but not pooled; the pooled piece is the second copy alone
REWRITE_OFFICIAL = "{bos}Rewrite the following paragraph: {{!%%text%%}}\nThe rewritten paragraph: {{%%text%%}}"


@pytest.mark.parametrize("arch", ["llama", "mistral", "qwen3"])
@pytest.mark.parametrize("method, role, template", [
    ("echo", "document", REWRITE_OFFICIAL),
    ("echo", "query", REWRITE_OFFICIAL),
    ("echo_finetuned", "document", "{bos}Document:{{!%%text%%}}\nDocument again:{{%%text%%}}{{{eos}}}"),
    ("echo_finetuned", "query", "{bos}Query:{{!%%text%%}}\nQuery again:{{%%text%%}}{{{eos}}}"),
])
def test_echo_matches_echo_parser_and_pooling(arch, method, role, template, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    tok = stock.tokenizer
    want = ref.echo(stock.model, tok, SENTENCES, official_template(tok, template))
    assert close(ours(bb, method, role=role), want) < TOL


def test_echos_default_is_the_zero_shot_rewrite_prompt_pooled_over_the_second_copy_only(tiny_backbones):
    echo = get_method("echo")
    assert echo.prompt.document == echo.prompt.query == ("Rewrite the following paragraph: {text}\n"
                                                         "The rewritten paragraph: {text}")
    enc = Encoder(tiny_backbones("llama"), echo)
    item = enc.tokenize([SENTENCES[0]])[0]
    assert item.text_span[1] == len(item.ids)  # nothing (no EOS) after the pooled second copy
    assert echo.pooling == "mean_text" and echo.tokenization == "pieces"


LONG = " ".join(["The committee discussed the budget, the schedule and the venue for the next meeting."] * 6)


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_echo_caps_each_piece_at_max_length_as_echo_parser(arch, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    tok = stock.tokenizer
    template = official_template(tok, "{bos}Query:{{!%%text%%}}\nQuery again:{{%%text%%}}{{{eos}}}")
    texts = [LONG, SENTENCES[0]]
    enc = ours_with(bb, "echo_finetuned", max_length=16)
    want = ref.echo(stock.model, tok, texts, template, max_length=16)
    assert close(enc.encode(texts, prompt_type="query"), want) < TOL
    long = enc.tokenize([LONG], "query")[0]
    assert long.truncated and long.text_span[1] - long.text_span[0] == 16  # each copy keeps max_length tokens
    assert len(long.ids) > 32  # the whole input is longer than max_length


@pytest.mark.parametrize("arch", ["llama", "qwen3"])
def test_echo_instruction_is_one_unpooled_piece(arch, tiny_backbones):
    bb, stock = tiny_backbones(arch), tiny_backbones(arch, "sdpa")
    tok = stock.tokenizer
    template = official_template(tok, "{bos}Instruct:{{!%%prompt%%,}}\nQuery:{{!%%text%%}}\nQuery again:"
                                      "{{%%text%%}}{{{eos}}}")
    instruction = "Retrieve passages that answer the question"
    enc = ours_with(bb, "echo_finetuned")
    got = enc.encode(SENTENCES, prompt_type="query", instruction=instruction)
    want = ref.echo(stock.model, tok, SENTENCES, template, variables={"prompt": instruction})
    assert close(got, want) < TOL
    item = enc.tokenize([SENTENCES[0]], "query", instruction)[0]
    n_instruction = len(tok(instruction + ",", add_special_tokens=False)["input_ids"])
    assert item.ids.count(item.ids[item.text_span[0]]) >= 2  # the text twice ...
    assert len(item.ids) > n_instruction + 2 * (item.text_span[1] - item.text_span[0])  # ... and the instruction once
    # documents take no instruction (the official document template has none)
    doc = enc.encode(SENTENCES, prompt_type="document")
    assert np.allclose(enc.encode(SENTENCES, prompt_type="document", instruction=instruction), doc)


def test_echo_uses_the_query_template_on_symmetric_tasks():
    assert get_method("echo_finetuned").symmetric_role == "query"
    assert get_method("prompteol").symmetric_role == "document"


def test_cp_and_tp_run_from_the_public_api(tiny_backbones):
    for method in ("cp", "cp_depth_scaled", "token_prepending", "token_prepending_prompteol",
                   "token_prepending_pretcot", "token_prepending_ke", "token_prepending_depth_scaled",
                   "token_prepending_script_default"):
        enc = Encoder.from_pretrained(tiny_backbones("llama"), method=method)
        emb = enc.encode(SENTENCES)
        assert emb.shape == (len(SENTENCES), enc.dim) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
        info = enc.describe()
        assert info["output_layer"] is not None and info["baseline_settings_source"]


def test_settings_come_from_the_official_tables_with_their_source():
    tp = TokenPrepending().settings("meta-llama/Llama-3.1-8B", "llama-3.1-8b", 32)
    assert tp.values == {"start": 1, "stop": 3, "output_layer": -2, "prompt": "pretcot"}
    assert "llama-3-8b-tp" in tp.source and tp.source.startswith("inferred: nearest family")
    tp2 = TokenPrepending().settings("meta-llama/Llama-2-7b-hf", "llama-2-7b", 32)
    assert tp2.values == {"start": 1, "stop": 7, "output_layer": 27, "prompt": "prompteol"}
    assert not tp2.source.startswith("inferred")
    # no entry: the penultimate layer the authors read on every model but Llama-2-7B, its TP layers scaled
    inferred = TokenPrepending().settings("HuggingFaceTB/SmolLM2", "smollm2-135m", 30)
    assert inferred.values == {"start": 1, "stop": 7, "output_layer": -2, "prompt": "prompteol"}
    assert inferred.source.startswith("inferred: output hidden_states[-2]")
    assert "scaled from 32 to 30" in inferred.source
    cp_inferred = ContrastivePrompting().settings("HuggingFaceTB/SmolLM2", "smollm2-135m", 30)
    assert cp_inferred.values == {"layer": 4, "coeff": 0.5, "output_layer": -2}
    # the named alternatives: Llama-2-7B's whole entry scaled, and TP's script run without a config
    scaled = TokenPrepending(rule="depth_scaled").settings("HuggingFaceTB/SmolLM2", "smollm2-135m", 30)
    assert scaled.values == {"start": 1, "stop": 7, "output_layer": 25, "prompt": "prompteol"}
    assert scaled.source.startswith("inferred: ") and "scaled from 32 to 30" in scaled.source
    assert ContrastivePrompting(rule="depth_scaled").settings("x", "smollm2", 30).values["output_layer"] == 25
    script = TokenPrepending(rule="script_default").settings("Qwen/Qwen2-7B", "qwen2-7b", 28)
    assert script.values == {"start": 1, "stop": 28, "output_layer": -1, "prompt": "prompteol"}
    assert "argparse defaults" in script.source
    # a backbone with an official entry keeps it under both inferring rules
    for rule in ("authors", "depth_scaled"):
        assert TokenPrepending(rule=rule).settings("meta-llama/Llama-2-7b-hf", "llama-2-7b", 32).values == tp2.values
    with pytest.raises(ValueError, match="Unknown baseline rule"):
        TokenPrepending(rule="nearest").settings("x", "y", 6)
    with pytest.raises(ValueError, match="Token Prepending's"):
        ContrastivePrompting(rule="script_default").settings("x", "y", 6)
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


def test_the_methods_page_table_of_tp_and_cp_settings_is_rendered_from_the_code():
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "scripts"))
    try:
        import baseline_settings
    finally:
        sys.path.remove(str(root / "scripts"))
    page = baseline_settings.PAGE.read_text()  # what `scripts/baseline_settings.py --check` compares
    assert baseline_settings.splice(page, baseline_settings.markdown()) == page, "run baseline_settings.py --write"
    paper = [r for r in baseline_settings.rows() if "(paper)" in r["backbone"]]
    assert len(paper) == 3
    assert all(r["TP source"].startswith("inferred") and r["CP source"].startswith("inferred") for r in paper)
