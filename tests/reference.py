"""An independent, deliberately slow reference for KV re-routing.

It shares nothing with ``kvembed.attention``: it decides visibility itself from the 2-D padding mask
(causal, padding, sliding window), finds each row's last real token itself, re-rotates with its own
RoPE frequencies, and writes each query's softmax out (exp and normalisation over the keys its own rules
make visible, query row by query row, in float64; no SDPA). Registered as an
attention function named ``reference``; the model's projections, norms and RoPE stay stock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import transformers

NAME = "reference"


@dataclass
class RefContext:
    padding_mask: torch.Tensor  # (B, S) bool
    layers: frozenset = frozenset()
    bias: float = 0.0
    mode: str = "reroute"  # reroute | capture | inject | bidirectional
    prefix_position: int | None = None
    rope_theta: float = 10000.0
    captured: dict = field(default_factory=dict)
    rope_scaling: dict | None = None  # the config's rope parameters when they scale frequencies (llama3)


def _window(module):
    cfg = module.config
    if hasattr(module, "sliding_window"):
        return module.sliding_window
    return getattr(cfg, "sliding_window", None)


def _llama3_frequencies(inv: torch.Tensor, scaling: dict) -> torch.Tensor:
    """Llama 3.1's frequency scaling, after meta-llama/llama-models ``models/llama3/model.py``
    ``apply_scaling``: wavelengths shorter than old_context_len / high_freq_factor keep their frequency,
    longer than old_context_len / low_freq_factor are divided by ``factor``, and those between blend the two."""
    old = scaling["original_max_position_embeddings"]
    low, high, factor = scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["factor"]
    out = []
    for freq in inv.tolist():
        wavelen = 2 * math.pi / freq
        if wavelen < old / high:
            out.append(freq)
        elif wavelen > old / low:
            out.append(freq / factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            out.append((1 - smooth) * freq / factor + smooth * freq)
    return torch.tensor(out, dtype=inv.dtype)


def _rerotate(k: torch.Tensor, delta: int, theta: float, scaling: dict | None = None) -> torch.Tensor:
    """Rotate a post-RoPE key (D,) by ``delta`` positions (rotate-half convention)."""
    D = k.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    if scaling and scaling.get("rope_type") == "llama3":
        inv = _llama3_frequencies(inv, scaling)
    elif scaling and scaling.get("rope_type") not in (None, "default"):
        raise NotImplementedError(f"reference re-rotation for rope_type {scaling['rope_type']!r}")
    ang = delta * inv
    cos = torch.cat([ang.cos(), ang.cos()]).to(k.dtype)
    sin = torch.cat([ang.sin(), ang.sin()]).to(k.dtype)
    half = D // 2
    rot = torch.cat([-k[half:], k[:half]])
    return k * cos + rot * sin


def reference_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    ctx: RefContext = kwargs["ref_ctx"]
    B, H, S, D = query.shape
    groups = H // key.shape[1]
    scale = scaling if scaling is not None else D ** -0.5
    W = _window(module)
    layer = module.layer_idx
    selected = layer in ctx.layers
    out = torch.zeros(B, S, H, D, dtype=query.dtype)
    heads = torch.arange(H) // groups  # the KV head each query head reads
    for b in range(B):
        real = [j for j in range(S) if bool(ctx.padding_mask[b, j])]
        n = real[-1]
        keys_b, vals_b = key[b][heads].double(), value[b][heads].double()  # (H, S, D): each query head's KV head
        k_pre, v_pre = key[b, :, n], value[b, :, n]  # (Hkv, D)
        if selected and ctx.mode == "capture":
            ctx.captured[(layer, b)] = (k_pre.clone(), v_pre.clone())
        if selected and ctx.mode == "inject":
            k_pre, v_pre = ctx.captured[(layer, b)]
        if selected and ctx.prefix_position is not None and ctx.mode in ("reroute", "inject"):
            # token n sits at RoPE position len(real) - 1 (left padding shifts its index, not its position)
            k_pre = torch.stack([_rerotate(k, ctx.prefix_position - (len(real) - 1), ctx.rope_theta, ctx.rope_scaling)
                                 for k in k_pre])
        # visibility from this reference's own rules, one query row at a time; padded query rows are never compared
        visible = torch.zeros(len(real), S, dtype=torch.bool)
        for row, i in enumerate(real):
            if selected and ctx.mode == "bidirectional":
                cols = [j for j in real if W is None or abs(i - j) < W]
            else:
                cols = [j for j in real if j <= i and (W is None or i - j < W)]
            visible[row, cols] = True
        q = query[b][:, real].double()  # (H, Q, D)
        logits = torch.einsum("hsd,hqd->hqs", keys_b, q) * scale
        logits = logits.masked_fill(~visible, float("-inf"))
        if selected and ctx.mode in ("reroute", "inject"):
            prefix = torch.einsum("hd,hqd->hq", k_pre[heads].double(), q) * scale + ctx.bias  # (H, Q)
            logits = torch.cat([prefix[..., None], logits], dim=2)  # the prefix is key 0 of every query
        w = torch.exp(logits - logits.max(dim=2, keepdim=True).values)  # each query's softmax, written out
        w = w / w.sum(dim=2, keepdim=True)
        mixed = torch.einsum("hqs,hsd->hqd", w[..., -S:], vals_b)
        if selected and ctx.mode in ("reroute", "inject"):
            mixed = mixed + w[..., :1] * v_pre[heads].double()[:, None]
        out[b, real] = mixed.transpose(0, 1).to(query.dtype)
    return out, None


def register() -> None:
    from transformers.masking_utils import sdpa_mask

    transformers.AttentionInterface.register(NAME, reference_attention)
    transformers.AttentionMaskInterface.register(NAME, sdpa_mask)


def reference_forward(model, batch, ctx: RefContext) -> torch.Tensor:
    """Last hidden state of ``model`` (loaded with attn_implementation='reference') under ``ctx``."""
    with torch.inference_mode():
        if ctx.mode == "two_pass":
            first = replace(ctx, mode="capture", captured={})
            model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                  position_ids=batch.position_ids, use_cache=False, ref_ctx=first)
            ctx = replace(ctx, mode="inject", captured=first.captured)
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                     position_ids=batch.position_ids, use_cache=False, ref_ctx=ctx).last_hidden_state
