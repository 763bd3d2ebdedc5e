"""The figure notebooks execute headless on the committed offline results and write valid, non-empty PNGs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.py"))
FIGURES = {  # notebook -> the figures it must write
    "01_intrinsic_dimension": ["a_intrinsic_dimension.png"],
    "02_sweeps": ["b_layer_sweep.png", "c_bias_sweep.png"],
    "03_ablations": ["d_prompt_pooling_components.png", "f_geometry.png"],
    "04_benchmarks": ["e_locov1_length.png", "g_table1.png"],
}


def _runner():
    spec = importlib.util.spec_from_file_location("run_notebooks", ROOT / "scripts" / "run_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_notebook_is_listed_with_its_figures():
    assert sorted(nb.stem for nb in NOTEBOOKS) == sorted(FIGURES)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_writes_its_figures_from_results(notebook, tmp_path, monkeypatch):
    from matplotlib.image import imread

    monkeypatch.setenv("KVEMBED_BOOTSTRAP", "100")  # the figures' intervals need not be publication-grade here
    executed = _runner().run(notebook, ROOT / "results", tmp_path)
    assert executed.exists()
    for name in FIGURES[notebook.stem]:
        png = tmp_path / name
        assert png.exists(), f"{notebook.name} did not write {name}"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        image = imread(png)
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert float(np.std(image[..., :3])) > 0.01  # not a blank canvas
