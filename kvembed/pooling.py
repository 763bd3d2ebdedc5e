"""Pooling the final hidden layer into one vector per text (docs/method.md §3).

``mean_last`` (KV-Embedding's default) is e = (h_last + mean_i h_i) / 2 over the real tokens, prompt
tokens included; ``mean_text`` averages the text's own tokens only (for Echo: its second copy);
``mean_from_text`` averages from the start of the (last copy of the) text to the final token — Echo's
pooled span in echo-embeddings: the second copy and the EOS after it. Which tokens count as "real" for
``mean`` is the caller's choice (kvembed leaves out the tokenizer's leading BOS by default).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POOLINGS = ("last", "mean", "mean_last", "mean_text", "mean_from_text")


def check_pooling(name: str) -> str:
    if name not in POOLINGS:
        raise ValueError(f"Unknown pooling {name!r}; choose one of {POOLINGS}")
    return name


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def pool(hidden: torch.Tensor, real: torch.Tensor, text: torch.Tensor, last_index: torch.Tensor,
         pooling: str, normalize: bool = True) -> torch.Tensor:
    """Pool (B, S, H) hidden states; ``real``/``text`` are (B, S) bool masks, ``last_index`` (B,)."""
    check_pooling(pooling)
    hidden = hidden.float()
    last = hidden[torch.arange(hidden.shape[0], device=hidden.device), last_index]
    if pooling == "last":
        out = last
    elif pooling == "mean":
        out = _masked_mean(hidden, real)
    elif pooling == "mean_last":
        out = (last + _masked_mean(hidden, real)) / 2
    elif pooling == "mean_text":
        out = _masked_mean(hidden, text)
    else:
        idx = torch.arange(hidden.shape[1], device=hidden.device)[None]
        start = text.to(torch.int8).argmax(1, keepdim=True)
        out = _masked_mean(hidden, (idx >= start) & (idx <= last_index[:, None]))
    return F.normalize(out, dim=-1) if normalize else out
