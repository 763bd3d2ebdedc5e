"""Prompt templates: tokenised as the reference code does (whole string, or Echo's pieces), spans, text
clean-up, and truncation that keeps the suffix."""

from __future__ import annotations

import pytest

from kvembed.methods import METHODS
from kvembed.methods.echo import ECHO_FINETUNED as ECHO
from kvembed.methods.kvembed import COMPRESSION_PROMPT
from kvembed.methods.token_prepending import TEMPLATES
from kvembed.prompts import (
    PLACEHOLDER_TOKEN,
    MethodInputs,
    Prompt,
    PromptTokenizer,
    prompteol_clean,
    special_tokens_around,
    with_placeholder,
)

TEXTS = ["A girl is styling her hair.", "Is it raining?", 'He said "no" twice', "", "  spaced  out  "]
WHOLE = [m for m in METHODS.values() if m.tokenization == "whole"]


@pytest.fixture(scope="module")
def tok(tiny_backbones):
    return tiny_backbones("llama").tokenizer  # adds a BOS token, like Llama/Mistral tokenizers


@pytest.fixture(scope="module", params=["tiny-llama", "tiny-qwen3", "smollm2"])
def any_tok(request, tiny_backbones):
    if request.param == "smollm2":
        return request.getfixturevalue("smollm2").tokenizer
    return tiny_backbones(request.param.split("-")[1]).tokenizer


def _filled(template: str, text: str, tokenizer) -> str:
    return (template.replace("{text}", text).replace("{pst}", PLACEHOLDER_TOKEN)
            .replace("{eos}", tokenizer.eos_token))


def test_special_tokens_are_detected(tiny_backbones):
    assert special_tokens_around(tiny_backbones("llama").tokenizer) == ([1], [])  # <|bos|>
    assert special_tokens_around(tiny_backbones("qwen3").tokenizer) == ([], [])


@pytest.mark.parametrize("method", WHOLE, ids=lambda m: m.name)
@pytest.mark.parametrize("role", ["document", "query"])
def test_ids_are_the_tokenizer_on_the_whole_prompt_string(method, role, any_tok):
    """As every reference batcher: clean the text, fill the template, tokenizer(prompt) once."""
    inputs = MethodInputs(any_tok, method, 512)
    template = method.prompt.for_role(role)
    clean = prompteol_clean if method.preprocess == "prompteol" else (lambda t: t)
    texts = [t for t in TEXTS if t or template is not None]  # raw empty text: nothing to encode on Qwen
    for text, e in zip(texts, inputs.encode(texts, role)):
        if template is None:
            want = inputs.tokenizer(text)["input_ids"]
        else:
            want = inputs.tokenizer(_filled(template, clean(text), any_tok))["input_ids"]
        assert list(e.ids) == want, (method.name, text)
        assert not e.truncated
        if method.contrastive:  # the contrast prompt too
            neg = inputs.tokenizer(_filled(method.contrastive.negative, clean(text), any_tok))["input_ids"]
            assert list(e.negative.ids) == neg


def test_prompteol_merges_across_the_quote_like_the_reference(smollm2):
    """The bug this replaces: piecewise tokenisation split '."' into '.' + '"' on SmolLM2."""
    tok = smollm2.tokenizer
    (e,) = PromptTokenizer(tok, METHODS["prompteol"].prompt.document, 512, preprocess="prompteol").encode(
        ["A man is playing a flute."])
    assert list(e.ids) == tok('This sentence : "A man is playing a flute." means in one word:"')["input_ids"]
    assert tok.decode(e.ids[e.text_span[0]:e.text_span[1]]) == 'A man is playing a flute."'  # the merged '."' too


def test_prompteol_clean_matches_the_reference_batcher():
    assert prompteol_clean("A dog runs") == "A dog runs."
    assert prompteol_clean("Is it?") == "Is it."
    assert prompteol_clean('He said "hi".') == "He said 'hi'."
    assert prompteol_clean('He said "hi"') == "He said 'hi'"  # ends with a quote: no full stop added
    assert prompteol_clean("") == ""


def test_template_wraps_the_text_and_ends_with_the_prompt(tok):
    pt = PromptTokenizer(tok, COMPRESSION_PROMPT.document, 512)
    (e,) = pt.encode(["A girl is styling her hair."])
    assert e.ids[0] == tok.bos_token_id and e.content_start == 1
    decoded = tok.decode(e.ids, skip_special_tokens=True)
    assert decoded == "Context: A girl is styling her hair. Compress the Context in one word:"
    assert tok.decode(e.ids[e.text_span[0]:e.text_span[1]]).strip() == "A girl is styling her hair."
    assert not e.truncated


@pytest.mark.parametrize("template", [COMPRESSION_PROMPT.document, METHODS["prompteol"].prompt.document])
def test_truncation_happens_inside_the_text_and_keeps_the_suffix(any_tok, template):
    limit = 40
    pt = PromptTokenizer(any_tok, template, limit)
    long_text = "word and more words " * 60
    (e,) = pt.encode([long_text])
    assert len(e.ids) <= limit and e.truncated
    assert len(e.ids) >= limit - 3  # cut at the text's own token boundaries, not far short
    suffix_text = template.split("{text}")[1]
    assert any_tok.decode(e.ids, skip_special_tokens=True).endswith(suffix_text)
    # the ids are the whole-string tokenisation of a prefix of the text
    cut_text = any_tok.decode(e.ids, skip_special_tokens=True)[len(template.split("{text}")[0]):-len(suffix_text)]
    assert long_text.startswith(cut_text)
    assert list(e.ids) == any_tok(template.replace("{text}", cut_text))["input_ids"]


def test_echo_is_tokenised_piece_by_piece_like_echo_parser(tok):
    """EchoParser tokenises each template piece and each copy of the text on its own."""
    text = "She plays the violin."
    pt = PromptTokenizer(tok, ECHO.document, 512, tokenization="pieces")
    (e,) = pt.encode([text])
    piece = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    want = [tok.bos_token_id] + piece("Document:") + piece(text) + piece("\nDocument again:") + piece(text) \
        + [tok.eos_token_id]
    assert list(e.ids) == want
    a, z = e.text_span
    assert list(e.ids[a:z]) == piece(text) and z == len(want) - 1  # the second copy, then the EOS


def test_echo_caps_each_copy_at_max_length_as_its_parser(tok):
    pt = PromptTokenizer(tok, ECHO.document, 40, tokenization="pieces")
    (e,) = pt.encode(["many words " * 50])
    text_ids = tok("many words " * 50, add_special_tokens=False)["input_ids"][:40]
    assert e.truncated and list(e.ids[e.text_span[0]:e.text_span[1]]) == text_ids  # the second copy: 40 tokens
    assert list(e.ids).count(text_ids[5]) >= 2 * text_ids.count(text_ids[5])  # and the first copy too
    assert len(e.ids) > 80  # so the whole input is longer than max_length
    assert e.ids[-1] == tok.eos_token_id
    (short,) = pt.encode(["a few words"])
    assert not short.truncated


def test_placeholder_is_one_added_token_before_the_quote(tok):
    with pytest.raises(ValueError, match=PLACEHOLDER_TOKEN):
        PromptTokenizer(tok, TEMPLATES["prompteol"], 512)  # the shared tokenizer does not know <PST>
    tp_tok = with_placeholder(tok)
    assert PLACEHOLDER_TOKEN not in tok.get_vocab()  # the shared tokenizer is left alone
    pt = PromptTokenizer(tp_tok, TEMPLATES["prompteol"], 512)
    (e,) = pt.encode(["Dogs bark."])
    assert tp_tok.convert_ids_to_tokens(e.ids[e.pst_index]) == PLACEHOLDER_TOKEN
    assert e.pst_index < e.text_span[0]
    assert tp_tok.decode(e.ids[e.pst_index + 1:e.text_span[1]]).strip().startswith('"Dogs')


def test_raw_prompt_is_just_the_tokenizer(tok):
    pt = PromptTokenizer(tok, None, 512)
    (e,) = pt.encode(["Dogs bark."])
    assert list(e.ids) == tok("Dogs bark.")["input_ids"]


def test_query_role_uses_its_own_template():
    assert "Query:" in COMPRESSION_PROMPT.for_role("query")
    assert Prompt.same("x {text}").for_role("query") == "x {text}"
    with pytest.raises(ValueError, match="prompt_type"):
        COMPRESSION_PROMPT.for_role("passage")


@pytest.mark.parametrize("template, message", [
    ("no placeholder", "no {text}"),
    ("{text} and {other}", "unknown placeholder"),
])
def test_bad_templates_are_rejected(tok, template, message):
    with pytest.raises(ValueError, match=message):
        PromptTokenizer(tok, template, 512)


def test_bad_tokenization_and_max_length_are_rejected(tok):
    with pytest.raises(ValueError, match="leaves no room"):
        PromptTokenizer(tok, COMPRESSION_PROMPT.document, 5)
    with pytest.raises(ValueError, match="positive integer"):
        PromptTokenizer(tok, None, 0)
    with pytest.raises(ValueError, match="tokenization"):
        PromptTokenizer(tok, None, 10, tokenization="bytes")


def test_the_placeholder_is_found_on_a_sentencepiece_style_tokenizer_as_mistrals():
    """A Metaspace (sentencepiece-style) tokenizer reports the added <PST> as '▁<PST>' while its id is the
    added token's: found by the rehearsal, where Token Prepending failed on Mistral's geometry."""
    from scripts.rehearsal import tokenizer

    tp_tok = with_placeholder(tokenizer("mistralai/Mistral-7B-v0.1", vocab_size=2000))
    pt = PromptTokenizer(tp_tok, TEMPLATES["prompteol"], 512)
    (e,) = pt.encode(["Dogs bark."])
    assert e.ids[e.pst_index] == tp_tok.convert_tokens_to_ids(PLACEHOLDER_TOKEN)
    assert e.pst_index < e.text_span[0]
