"""Every option of every config group composes and validates, without loading a model."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.core.config_store import ConfigStore

from kvembed.harness.config import validate
from kvembed.harness.job import CONFIG_DIR, encoder_options, result_key
from kvembed.harness.jobs import compose_config
from kvembed.overrides import Overrides

GROUPS = ["backbone", "method", "layers", "pooling", "benchmark", "logger"]


def options(group: str) -> list[str]:
    """The group's options as Hydra lists them (YAML files, or the registries' options in Hydra's ConfigStore)."""
    files = {p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml")}
    stored = {name.removesuffix(".yaml") for name in ConfigStore.instance().repo.get(group, {})}
    return sorted(files | stored)


def composed(overrides: list[str]):
    return compose_config(overrides)


def rows() -> list[list[str]]:
    """Every option of every group, in as few compositions as the largest group has options: row i takes
    each group's i-th option (cycling the smaller groups), so each option is also checked beside others."""
    opts = {g: options(g) for g in GROUPS}
    return [[f"{g}={opts[g][i % len(opts[g])]}" for g in GROUPS] for i in range(max(map(len, opts.values())))]


def test_the_rows_hold_every_group_option():
    assert {o for row in rows() for o in row} == {f"{g}={o}" for g in GROUPS for o in options(g)}


@pytest.mark.parametrize("row", rows(), ids=lambda row: ",".join(o.split("=")[1] for o in row))
def test_every_group_option_composes_and_validates(row):
    run = validate(composed(row))  # raises, naming the key, on the first option that does not
    assert run.backbone.name == row[0].removeprefix("backbone=")


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_composes(experiment):
    run = validate(composed([f"experiment={experiment}"]))
    assert run.experiment == experiment


def test_defaults_are_the_paper_method_on_the_offline_default():
    run = validate(composed([]))
    assert (run.backbone.name, run.method.name.value, run.benchmark.name) == ("smollm2-135m", "kvembed", "offline")
    assert encoder_options(run) == {"method": "kvembed", "overrides": Overrides(), "dtype": "auto", "device": "auto",
                                    "max_length": 512, "padding_side": "right", "revision": None}


def test_sweep_values_change_the_result_key():
    a = result_key(validate(composed(["bias=0"])))
    b = result_key(validate(composed(["bias=2"])))
    c = result_key(validate(composed(["bias=2", "batch_size=8"])))
    assert a != b and b == c  # batch size does not change what is computed


@pytest.mark.parametrize("overrides, message", [
    (["pooling.name=max"], "Invalid value 'max'"),
    (["bias=high"], "bias must be a number"),
    (["prefix_position=-1"], "prefix_position must be an integer >= 0"),
    (["prompt=no slot here"], "no {text} placeholder"),
    (["max_length=2"], "max_length must be at least 8"),
    (["batch_size=0"], "batch_size must be >= 1"),
    (["layers=auto", "layers.estimator=pca"], "Unknown layer estimator 'pca'"),
    (["layers=range", "layers.start=null"], "needs start"),
    (["routing_impl=fast"], "routing_impl must be one of"),
    (["backbone.dtype=float8"], "Invalid value 'float8'"),
    (["benchmark.limit=0"], "benchmark.limit"),
])
def test_bad_values_fail_before_any_model_loads(overrides, message):
    with pytest.raises(ValueError, match=message):
        validate(composed(overrides))


def test_the_method_and_backbone_groups_are_the_registries_with_no_yaml_mirror():
    """Each method and backbone is declared once, in Python; Hydra's options are registered from it."""
    from kvembed.backbones import BACKBONES
    from kvembed.methods import METHOD_NAMES

    assert options("method") == sorted(METHOD_NAMES) and options("backbone") == sorted(BACKBONES)
    assert not (Path(CONFIG_DIR) / "method").exists() and not (Path(CONFIG_DIR) / "backbone").exists()
    for name in BACKBONES:  # revisions are pinned in the lock file, not in the config
        run = validate(composed([f"backbone={name}"]))
        assert (run.backbone.name, run.backbone.revision) == (name, None)
    assert validate(composed(["method=cp_depth_scaled"])).method.name.value == "cp_depth_scaled"


def test_every_method_and_backbone_says_what_it_is():
    from kvembed.backbones import BACKBONES
    from kvembed.methods import METHODS

    assert all(spec.summary for spec in METHODS.values()) and all(spec.notes for spec in BACKBONES.values())


def test_one_configuration_has_one_result_key():
    """One setting spelt two ways is one job: the key holds the overrides in their canonical form."""
    assert result_key(validate(composed(["bias=1"]))) == result_key(validate(composed(["bias=1.0"])))
    explicit = result_key(validate(composed(["layers=explicit", "layers.layers=[2,3]"])))
    assert explicit["overrides"] == {"layers": {"strategy": "explicit", "layers": [2, 3]}}
    assert result_key(validate(composed(["layers=auto_mean"])))["overrides"] == \
        result_key(validate(composed(["layers=auto", "layers.representation=mean"])))["overrides"]
    assert result_key(validate(composed(["bias=default"]))) == result_key(validate(composed([])))
    assert result_key(validate(composed([])))["overrides"] == {}


def test_the_config_catalogue_page_is_rendered_from_the_config_files():
    import subprocess
    import sys

    root = Path(CONFIG_DIR).parents[1]
    check = subprocess.run([sys.executable, "scripts/config_catalogue.py", "--check"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_every_override_is_a_key_of_the_composed_config():
    """Hydra overrides only keys the composed config has: each override without a group is one, `default`."""
    from kvembed.harness.config import GROUPS

    cfg = composed([])
    assert all(cfg[n] == "default" for n in Overrides.names() if n not in GROUPS)
    assert validate(composed(["bias=2", "prefix_position=0"])).bias == 2
