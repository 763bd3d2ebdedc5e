"""Overrides: one typed object carries a user's settings from every surface to the method."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from kvembed.cli import main as cli_main
from kvembed.layers import LayerSpec
from kvembed.methods import get_method
from kvembed.methods.base import Routing
from kvembed.overrides import DEFAULT, Overrides, configure
from kvembed.prompts import RAW, Prompt


def test_every_value_is_typed_when_the_object_is_made():
    o = Overrides(layers="3-5", bias="2", prefix_position="4", routing_impl="masked", pooling="mean",
                  prompt="prompteol")
    assert o.layers == LayerSpec("range", start=3, stop=6)
    assert o.bias == 2.0 and isinstance(o.bias, float)
    assert o.prefix_position == 4
    assert o.prompt == get_method("prompteol").prompt
    assert Overrides(prefix_position="none").prefix_position is None
    assert Overrides(prompt=None).prompt == RAW


def test_default_keeps_the_methods_own_settings():
    spec = get_method("kvembed")
    assert Overrides().apply(spec) == spec
    assert Overrides().set() == {}
    assert all(getattr(Overrides(), name) == DEFAULT for name in Overrides.names())


def test_options_act_on_the_method():
    spec = Overrides(layers=[2, 3], bias=2, prefix_position=0, routing_impl="masked", pooling="last",
                     prompt="Say {text}").apply(get_method("kvembed"))
    assert spec.routing == Routing(layers=LayerSpec("explicit", layers=(2, 3)), bias=2.0, prefix_position=0,
                                   impl="masked")
    assert spec.pooling == "last" and spec.prompt == Prompt.same("Say {text}")


@pytest.mark.parametrize("option, value, message", [
    ("bias", "two", "bias must be a number"),
    ("bias", True, "bias must be a number"),
    ("prefix_position", -1, "prefix_position must be an integer >= 0"),
    ("prefix_position", 1.5, "prefix_position must be an integer >= 0"),
    ("routing_impl", "fast", "routing_impl must be one of"),
    ("pooling", "max", "Unknown pooling"),
    ("layers", "x-y", "Cannot read layers"),
])
def test_a_bad_value_fails_naming_the_option(option, value, message):
    with pytest.raises(ValueError, match=message):
        Overrides(**{option: value})


def test_an_unknown_option_fails_listing_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown option\(s\) \['temperature'\].*'layers'"):
        Overrides.of(temperature=2)


def test_of_merges_an_object_with_keywords():
    merged = Overrides.of(Overrides(bias=2), layers="auto")
    assert merged.set() == {"bias": 2.0, "layers": LayerSpec("auto")}
    assert Overrides.of(merged) == merged  # typed values parse to themselves


def test_routing_options_on_a_method_without_rerouting_are_ignored_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        spec = configure("mean", bias=3, pooling="last")
    assert spec.routing is None and spec.pooling == "last"
    assert "does not re-route; ignoring ['bias']" in caplog.text


def test_an_explicit_prompt_unpairs_token_prepending_from_its_official_prompt():
    assert get_method("token_prepending").token_prepending.paired_prompt
    spec = configure("token_prepending", prompt='A : {pst} "{text}" means in one word:"')
    assert not spec.token_prepending.paired_prompt


def test_routing_holds_only_typed_values():
    with pytest.raises(TypeError, match="LayerSpec"):
        Routing(layers=[1, 2])
    with pytest.raises(TypeError, match="bias"):
        Routing(bias="1.0")


def test_every_surface_derives_its_options_from_the_declaration(capsys):
    from kvembed.harness.config import RunConfig, validate

    names = set(Overrides.names())
    assert names <= {f.name for f in dataclasses.fields(RunConfig)}
    with pytest.raises(SystemExit):
        cli_main(["encode", "--help"])
    flags = capsys.readouterr().out
    assert all(f"--{n.replace('_', '-')}" in flags for n in names)
    run = validate({"bias": 2, "layers": {"strategy": "explicit", "layers": [1]}, "prompt": None,
                    "benchmark": {"tasks": ["STSBenchmark"]}})
    assert run.overrides == Overrides(bias=2.0, layers=[1], prompt=None)


def test_the_encoder_rejects_an_unknown_option_before_loading_a_model():
    from kvembed import Encoder

    with pytest.raises(ValueError, match="Unknown option"):
        Encoder.from_pretrained("no-such-model", temperature=2)


@pytest.mark.integration
def test_mtebs_model_meta_loads_a_kvembed_model_with_its_options(tiny_backbones):
    from kvembed.eval.mteb_model import MTEBEncoder, model_meta

    tiny_backbones("llama")  # built once into the cache
    meta = model_meta("tiny-llama", "kvembed", layers="1-2", bias=2, dtype="float32", device="cpu")
    assert meta.name == "kvembed/tiny-llama__kvembed" and meta.revision == "local"
    model = meta.load_model()  # mteb's own way of loading a declared model
    assert isinstance(model, MTEBEncoder)
    assert model.model.layers == (1, 2) and model.model.method.routing.bias == 2.0
    assert model.mteb_model_meta.name == meta.name


@pytest.mark.parametrize("given", [
    {}, {"bias": 2}, {"layers": "3-5"}, {"layers": {"strategy": "range", "start": 12, "stop": None}},
    {"layers": "auto"}, {"layers": [2, 3]}, {"prompt": "ke", "pooling": "last"}, {"prompt": None},
    {"prompt": "Say {text}"}, {"prefix_position": None}, {"prefix_position": 0, "routing_impl": "masked"}])
def test_the_canonical_form_is_plain_json_and_reads_back_as_the_same_overrides(given):
    import json

    overrides = Overrides(**given)
    canonical = overrides.canonical()
    assert json.loads(json.dumps(canonical)) == canonical
    assert Overrides(**canonical) == overrides


def test_the_canonical_form_spells_each_setting_one_way():
    assert Overrides(bias=1).canonical() == Overrides(bias="1.0").canonical() == {"bias": 1.0}
    # a layer spec keeps its strategy and only the fields that differ from LayerSpec's defaults
    assert Overrides(layers={"strategy": "auto", "representation": "mean", "width": 0.1}).canonical() == \
        {"layers": {"strategy": "auto", "representation": "mean"}}
    assert Overrides(prompt="prompteol").canonical() == {"prompt": "prompteol"}  # a preset by its name
    assert Overrides(prompt={"document": "A {text}", "query": "Q {text}"}).canonical() == \
        {"prompt": {"document": "A {text}", "query": "Q {text}"}}
