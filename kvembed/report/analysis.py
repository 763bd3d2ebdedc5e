"""Analyses the notebooks call on a live encoder: the per-layer intrinsic-dimension curve."""

from __future__ import annotations

from collections.abc import Sequence

from ..layers import id_curve


def layer_id_curve(encoder, texts: Sequence[str], representation: str = "last",
                   estimator: str = "mle") -> tuple[float, ...]:
    """TwoNN intrinsic dimension of the states entering each decoder layer of ``encoder`` over ``texts``."""
    return id_curve(encoder.layer_states(list(dict.fromkeys(texts)), representation), estimator)
