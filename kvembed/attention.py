"""KV re-routing attention (arXiv 2601.01046, §method): the heart of KV-Embedding.

At each selected layer the final real token's key/value pair (k_n, v_n) of the *same* forward pass —
after q/k-norm and RoPE, per KV head — becomes a one-slot prefix that every query may attend to:

    out_i = softmax([q_i·k_n·s + b,  q_i·K_{≤i}ᵀ·s + M_i]) · [v_n ; V]

with s the layer's scaling and b the prefix bias. Everything else (causal mask, padding, sliding
window) is the stock model's. Non-selected layers call transformers' own SDPA function, so with no
layer selected the model is bit-identical to ``attn_implementation="sdpa"``.

It is registered as an attention function plus a mask function under ``ATTENTION_NAME``; per-forward
information (which layers, the last index per row, ...) travels in a ``RoutingState`` passed to the
model call as the keyword ``kvembed_state`` (transformers forwards extra keywords to attention).

Two implementations of the re-routed attention:

* ``flat`` (default): no O(S²) float mask. The bias rides on an extra channel (q gets a constant 1,
  the prefix key gets b/s, other keys 0), so the prefix is an ordinary key for SDPA. Where the stock
  mask is pure causal for every real query (checked on the mask itself, once per forward) a dummy first
  query lets SDPA's ``is_causal`` place the prefix at key 0 without any mask; otherwise the stock
  boolean mask gains one always-visible column (built once per forward).
* ``masked``: the readable reference — concatenate the prefix and build the float mask (bias in
  column 0, -inf where masked).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import torch
import torch.nn.functional as F
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask

if TYPE_CHECKING:  # types only: the recipe is built above this module
    from .methods.base import Routing
    from .recipe import Recipe

ATTENTION_NAME = "kvembed"
Mode = Literal["single", "capture", "inject", "bidirectional"]
_BIAS_CHANNELS = 8  # keep the head dim a multiple of 8 so fused SDPA kernels still apply


@dataclass
class RoutingState:
    """What the attention function needs to know for one forward pass.

    mode: ``single`` (the method, as ``Routing.mode``), ``capture`` (pass 1 of the two-pass ablation: record the prefix,
    attend normally), ``inject`` (pass 2: use the recorded prefix), ``bidirectional`` (ablation:
    selected layers drop causality but keep padding and, on sliding-window layers, the window, made
    symmetric: |i - j| < W).
    """
    mode: Mode
    layers: Collection[int]  # the re-routed layers (the recipe's tuple)
    last_index: torch.Tensor  # (B,) index of each row's final real token
    routing: Routing  # the method's settings as given (bias, impl), read here where they act
    padding_mask: torch.Tensor | None = None  # (B, S) bool, True on real tokens
    prefix_rotation: tuple[torch.Tensor, torch.Tensor] | None = None  # (cos, sin), each (B, D)
    captured: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    visited: set[int] = field(default_factory=set)
    _mask_cache: dict[int, torch.Tensor] = field(default_factory=dict)
    _causal_cache: dict[int, bool] = field(default_factory=dict)

    @classmethod
    def of(cls, mode: Mode, recipe: Recipe, last_index: torch.Tensor, padding_mask: torch.Tensor,
           **kwargs) -> RoutingState:
        """The state of one forward pass as ``recipe`` re-routes it (``last_index``, ``padding_mask``: the batch's)."""
        return cls(mode, recipe.layers, last_index, recipe.routing, padding_mask=padding_mask, **kwargs)

    def check_reached(self, model) -> None:
        """Fail loudly when a model dropped the state on its way to attention (no layer was re-routed)."""
        if self.visited != set(self.layers):
            raise RuntimeError(
                f"Re-routing reached layers {sorted(self.visited)} but {sorted(self.layers)} were selected: this "
                f"model does not pass extra keywords to its attention function (attn_implementation="
                f"{model.config._attn_implementation!r})")


def register() -> None:
    """Register the attention and mask functions with transformers (idempotent)."""
    AttentionInterface.register(ATTENTION_NAME, kvembed_attention)
    # Without a mask function under the same name the padding mask is silently dropped.
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def last_token_kv(key: torch.Tensor, value: torch.Tensor, last_index: torch.Tensor):
    """The (B, Hkv, D) key and value of each row's final real token."""
    rows = torch.arange(key.shape[0], device=key.device)
    idx = last_index.to(key.device)
    return key[rows, :, idx], value[rows, :, idx]


def _window(module, kwargs: dict) -> int | None:
    window = kwargs.get("sliding_window") or getattr(module, "sliding_window", None)
    return None if window is None else int(window)


def is_pure_causal(mask: torch.Tensor | None, real: torch.Tensor | None) -> bool:
    """Does every real query see exactly the keys j <= i? Read from the stock mask itself, so padding,
    a sliding window or a bidirectional configuration all send the re-routing to the masked path."""
    if mask is None:
        return True
    S = mask.shape[-1]
    causal = torch.ones(S, S, dtype=torch.bool, device=mask.device).tril()
    if real is None:
        return bool((mask == causal).all())
    return bool(((mask == causal) | ~real.to(mask.device)[:, None, :, None]).all())


def bidirectional_mask(real: torch.Tensor, window: int | None) -> torch.Tensor:
    """(B, 1, S, S) bool: every real key, within a symmetric window where the layer has one."""
    keep = real[:, None, None, :]
    if window is None:
        return keep
    idx = torch.arange(real.shape[1], device=real.device)
    return keep & ((idx[:, None] - idx[None, :]).abs() < window)[None, None]


def _gqa_kwargs(query: torch.Tensor, key: torch.Tensor, has_mask: bool) -> dict:
    if query.shape[1] == key.shape[1]:
        return {}
    # CPU kernels take grouped-query inputs with or without a mask; CUDA's fused ones only without.
    if query.device.type == "cpu" or not has_mask:
        return {"enable_gqa": True}
    return {"repeat": query.shape[1] // key.shape[1]}


def _sdpa(query, key, value, *, attn_mask=None, is_causal=False, scale=None) -> torch.Tensor:
    kw = _gqa_kwargs(query, key, attn_mask is not None)
    if "repeat" in kw:
        n = kw.pop("repeat")
        key, value = key.repeat_interleave(n, dim=1), value.repeat_interleave(n, dim=1)
    return F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask, is_causal=is_causal,
                                          scale=scale, **kw)


def reroute_masked(query, key, value, k_n, v_n, mask, bias: float, scaling: float) -> torch.Tensor:
    """Reference re-routing: explicit prefix and float mask (O(S²) memory). Returns (B, H, S, D)."""
    B, _, S, _ = query.shape
    keys = torch.cat([k_n[:, :, None], key], dim=2)
    values = torch.cat([v_n[:, :, None], value], dim=2)
    if mask is None:
        allowed = torch.ones(S, S, dtype=torch.bool, device=query.device).tril()[None, None].expand(B, 1, S, S)
    else:
        allowed = mask
    float_mask = torch.zeros(B, 1, S, S + 1, dtype=query.dtype, device=query.device)
    float_mask[..., 1:].masked_fill_(~allowed, float("-inf"))
    float_mask[..., 0] = bias
    return _sdpa(query, keys, values, attn_mask=float_mask, scale=scaling)


def reroute_flat(query, key, value, k_n, v_n, mask, bias: float, scaling: float, causal_only: bool,
                 state: RoutingState | None = None) -> torch.Tensor:
    """Memory-flat re-routing (no float mask; no mask at all where the stock one is pure causal)."""
    D = query.shape[-1]
    extra = _BIAS_CHANNELS if bias != 0.0 else 0
    dummy = 1 if causal_only else 0
    q = F.pad(query, (0, extra, dummy, 0))
    keys = F.pad(torch.cat([k_n[:, :, None], key], dim=2), (0, extra))
    values = F.pad(torch.cat([v_n[:, :, None], value], dim=2), (0, extra))
    if extra:
        q[:, :, dummy:, D] = 1.0
        keys[:, :, 0, D] = bias / scaling
    if causal_only:
        out = _sdpa(q, keys, values, is_causal=True, scale=scaling)
        return out[:, :, 1:, :D]
    padded = state._mask_cache.get(id(mask)) if state is not None else None
    if padded is None:
        padded = F.pad(mask, (1, 0), value=True)
        if state is not None:
            state._mask_cache[id(mask)] = padded
    return _sdpa(q, keys, values, attn_mask=padded, scale=scaling)[..., :D]


def kvembed_attention(module, query, key, value, attention_mask, dropout: float = 0.0,
                      scaling: float | None = None, **kwargs):
    """transformers attention function: stock SDPA, except on the layers a RoutingState selects."""
    state: RoutingState | None = kwargs.pop("kvembed_state", None)
    layer = getattr(module, "layer_idx", None)
    if state is None or layer not in state.layers:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    state.visited.add(layer)
    if scaling is None:
        scaling = query.shape[-1] ** -0.5

    if state.mode == "bidirectional":
        keep = bidirectional_mask(state.padding_mask.to(query.device), _window(module, kwargs))
        out = _sdpa(query, key, value, attn_mask=keep, scale=scaling)
        return out.transpose(1, 2).contiguous(), None

    k_n, v_n = last_token_kv(key, value, state.last_index)
    if state.mode == "capture":
        state.captured[layer] = (k_n, v_n)
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    if state.mode == "inject":
        k_n, v_n = state.captured[layer]
    if state.prefix_rotation is not None:
        cos, sin = (t[:, None, :].to(k_n.dtype) for t in state.prefix_rotation)
        k_n = k_n * cos + _rotate_half(k_n) * sin

    bias = state.routing.bias
    if state.routing.impl == "masked":
        out = reroute_masked(query, key, value, k_n, v_n, attention_mask, bias, scaling)
    else:
        key_ = id(attention_mask)
        if key_ not in state._causal_cache:
            state._causal_cache[key_] = is_pure_causal(attention_mask, state.padding_mask)
        causal_only = state._causal_cache[key_]
        out = reroute_flat(query, key, value, k_n, v_n, attention_mask, bias, scaling, causal_only, state)
    return out.transpose(1, 2).contiguous(), None
