"""Prompt templates: segment tokenisation, spans, and truncation that keeps the suffix."""

from __future__ import annotations

import pytest

from kvembed.methods.echo import ECHO
from kvembed.methods.kvembed import COMPRESSION_PROMPT
from kvembed.methods.token_prepending import TEMPLATE as TP_TEMPLATE
from kvembed.prompts import Prompt, PromptTokenizer, special_tokens_around


@pytest.fixture(scope="module")
def tok(tiny_backbones):
    return tiny_backbones("llama").tokenizer  # adds a BOS token, like Llama/Mistral tokenizers


def test_special_tokens_are_detected(tiny_backbones):
    assert special_tokens_around(tiny_backbones("llama").tokenizer) == ([1], [])  # <|bos|>
    assert special_tokens_around(tiny_backbones("qwen3").tokenizer) == ([], [])


def test_template_wraps_the_text_and_ends_with_the_prompt(tok):
    pt = PromptTokenizer(tok, COMPRESSION_PROMPT.document, 512)
    (e,) = pt.encode(["A girl is styling her hair."])
    assert e.ids[0] == tok.bos_token_id
    decoded = tok.decode(e.ids, skip_special_tokens=True)
    assert decoded == "Context: A girl is styling her hair. Compress the Context in one word:"
    assert tok.decode(e.ids[e.text_span[0]:e.text_span[1]]) == " A girl is styling her hair."
    assert not e.truncated


def test_truncation_happens_inside_the_text_and_keeps_the_suffix(tok):
    pt = PromptTokenizer(tok, COMPRESSION_PROMPT.document, 24)
    full = PromptTokenizer(tok, COMPRESSION_PROMPT.document, 10_000)
    long_text = "word " * 200
    (e,) = pt.encode([long_text])
    (f,) = full.encode([long_text])
    assert len(e.ids) <= 24 and e.truncated
    suffix = tok(" Compress the Context in one word:", add_special_tokens=False)["input_ids"]
    assert list(e.ids[-len(suffix):]) == suffix
    assert e.ids[-1] == f.ids[-1]  # the final (re-routed, pooled) token survives
    assert e.ids[: e.text_span[0]] == f.ids[: f.text_span[0]]  # and so does the prefix


def test_echo_has_two_copies_and_the_span_is_the_second(tok):
    pt = PromptTokenizer(tok, ECHO, 512)
    (e,) = pt.encode(["She plays the violin."])
    text = tok.decode(e.ids, skip_special_tokens=True)
    assert text.count("She plays the violin.") == 2
    a, z = e.text_span
    assert tok.decode(e.ids[a:z]).strip() == "She plays the violin."
    assert a > len(e.ids) // 2


def test_echo_truncates_both_copies_equally(tok):
    pt = PromptTokenizer(tok, ECHO, 40)
    (e,) = pt.encode(["many words " * 50])
    assert len(e.ids) <= 40
    assert tok.decode(e.ids, skip_special_tokens=True).count("many words many") == 2


def test_placeholder_is_one_token_before_the_text(tok):
    pt = PromptTokenizer(tok, TP_TEMPLATE, 512, placeholder_id=0)
    (e,) = pt.encode(["Dogs bark."])
    assert e.ids[e.pst_index] == 0 and e.pst_index == e.text_span[0] - 1


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


def test_max_length_too_small_for_the_prompt(tok):
    with pytest.raises(ValueError, match="leaves no room"):
        PromptTokenizer(tok, COMPRESSION_PROMPT.document, 5)
    with pytest.raises(ValueError, match="positive integer"):
        PromptTokenizer(tok, None, 0)
