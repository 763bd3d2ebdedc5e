"""Pooling modes on hand-made hidden states."""

from __future__ import annotations

import pytest
import torch

from kvembed.pooling import pool

H = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 4.0], [9.0, 9.0]]])  # last row is padding
REAL = torch.tensor([[True, True, True, False]])
TEXT = torch.tensor([[False, True, False, False]])
LAST = torch.tensor([2])


@pytest.mark.parametrize("mode, expected", [
    ("last", [0.0, 4.0]),
    ("mean", [4 / 3, 4 / 3]),
    ("mean_last", [(0 + 4 / 3) / 2, (4 + 4 / 3) / 2]),
    ("mean_text", [3.0, 0.0]),
    ("mean_from_text", [1.5, 2.0]),  # Echo: from the text's first token to the final one
])
def test_pooling_modes(mode, expected):
    got = pool(H, REAL, TEXT, LAST, mode, normalize=False)
    assert torch.allclose(got, torch.tensor([expected]))


def test_normalised_output_has_unit_norm_and_ignores_padding():
    got = pool(H, REAL, TEXT, LAST, "mean", normalize=True)
    assert torch.allclose(got.norm(dim=-1), torch.ones(1))
    assert torch.allclose(got, torch.tensor([[2 ** -0.5, 2 ** -0.5]]))


def test_unknown_pooling_lists_choices():
    with pytest.raises(ValueError, match="mean_last"):
        pool(H, REAL, TEXT, LAST, "max")
