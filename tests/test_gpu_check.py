"""``make gpu-check`` in CPU mode: the same script, at small width and without timings, so that the check a
GPU session runs in its few minutes is known to work before it gets there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import gpu_check  # noqa: E402

sys.path.pop(0)


@pytest.mark.integration
def test_gpu_check_in_cpu_mode_writes_every_section_and_every_path_is_exact(tmp_path):
    out = tmp_path / "gpu_check.md"
    gpu_check.main(["--cpu", "--out", str(out)])  # exits non-zero when a path differs from the reference
    text = out.read_text()
    for hub_id in gpu_check.PAPER:
        assert f"## {hub_id}" in text
    assert text.count("| True |") == 3 * 2 * 2 * 2 * 2  # backbones x dtypes x padding sides x routings x paths
    assert text.count("n/a (CPU mode)") == 3 * 3  # no timings on CPU: one row per forward kind
    assert "SDPA kernel(s)" in text


def test_gpu_check_refuses_gpu_mode_without_a_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu_check.main(["--out", "unused.md"])
