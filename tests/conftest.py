"""Shared fixtures: offline environment, tiny random-init models of the real architectures."""

from __future__ import annotations

import os

from kvembed.hub import OFFLINE_ENV

for _key, _value in OFFLINE_ENV.items():  # the offline environment; values the user set win
    os.environ.setdefault(_key, _value)

import pytest  # noqa: E402

from kvembed.architectures import ARCHITECTURES  # noqa: E402  (no torch: xdist's controller starts without it)

# The cores shared among xdist's workers: two workers at two threads each on two cores spend their time
# waiting. Set before torch is imported (torch reads it then), and inherited by the runs integration tests
# start; torch is not imported here, so xdist's controller, which runs no test, starts without it.
_THREADS = max(1, min(2, (os.cpu_count() or 1) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
os.environ["OMP_NUM_THREADS"] = str(_THREADS)


@pytest.fixture(scope="session", autouse=True)
def _torch_threads():
    import torch

    torch.set_num_threads(_THREADS)

ARCHS = tuple(ARCHITECTURES)  # every supported architecture, as a tiny model

SENTENCES = [
    "A girl is styling her hair.",
    "A group of men play soccer on the beach while the sun sets behind them.",
    "One woman is measuring another woman's ankle.",
    "Stocks fell sharply on Monday after the central bank raised interest rates again.",
    "A cat.",
]


@pytest.fixture(scope="session")
def compose():
    """compose(overrides) -> the Hydra config the runner would get (one composition helper for every test)."""
    from kvembed.harness.jobs import compose_config

    return compose_config


@pytest.fixture(scope="session")
def sentences() -> list[str]:
    return list(SENTENCES)


@pytest.fixture(scope="session")
def tiny_backbones():
    """Loader cache: tiny_backbones(arch, attn) -> Backbone (one load per arch and attention kind)."""
    from kvembed.backbones import load_backbone

    cache = {}

    def get(arch: str, attn: str | None = None):
        if (arch, attn) not in cache:
            cache[(arch, attn)] = load_backbone(f"tiny-{arch}", dtype="float32", device="cpu",
                                                attn_implementation=attn)
        return cache[(arch, attn)]

    return get


@pytest.fixture(scope="session")
def smollm2():
    """The real embedded backbone (SmolLM2-135M-Instruct from its PyPI GGUF), fp32 on CPU."""
    from kvembed.backbones import load_backbone

    return load_backbone("smollm2-135m", dtype="float32", device="cpu")
