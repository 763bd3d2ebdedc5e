"""One batch through the backbone, with the method's mechanics: re-routing (single pass, two-pass or
bidirectional ablations) and Token Prepending. Returns final hidden states (or every layer's)."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from .attention import RoutingState
from .methods.base import Routing
from .prompts import Encoded


@dataclass
class Batch:
    """Padded model inputs plus the indices that pooling and re-routing need."""

    input_ids: torch.Tensor  # (B, S)
    attention_mask: torch.Tensor  # (B, S) long, 1 on real tokens
    position_ids: torch.Tensor  # (B, S)
    last_index: torch.Tensor  # (B,) final real token of each row
    text_mask: torch.Tensor  # (B, S) bool, the (last copy of the) text; all real tokens if the text is empty
    pst_index: torch.Tensor | None  # (B,) Token Prepending placeholder
    right_padded: bool

    @property
    def real(self) -> torch.Tensor:
        return self.attention_mask.bool()

    @property
    def num_tokens(self) -> int:
        return int(self.attention_mask.sum())


def make_batch(items: Sequence[Encoded], pad_id: int, padding_side: str = "right",
               device: str | torch.device = "cpu") -> Batch:
    """Pad encoded inputs to one tensor batch (right or left padding)."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    B, S = len(items), max(len(e.ids) for e in items)
    ids = torch.full((B, S), pad_id, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    text = torch.zeros((B, S), dtype=torch.bool)
    last = torch.empty(B, dtype=torch.long)
    pst = torch.zeros(B, dtype=torch.long)
    for b, e in enumerate(items):
        n = len(e.ids)
        off = 0 if padding_side == "right" else S - n
        ids[b, off:off + n] = torch.tensor(e.ids, dtype=torch.long)
        mask[b, off:off + n] = 1
        a, z = e.text_span
        if z > a:
            text[b, off + a:off + z] = True
        else:
            text[b, off:off + n] = True
        last[b] = off + n - 1
        if e.pst_index is not None:
            pst[b] = off + e.pst_index
    positions = (mask.cumsum(1) - 1).clamp_min(0)
    has_pst = items[0].pst_index is not None
    to = lambda t: t.to(device)  # noqa: E731
    return Batch(to(ids), to(mask), to(positions), to(last), to(text), to(pst) if has_pst else None,
                 right_padded=padding_side == "right")


def split_batch(batch: Batch) -> tuple[Batch, Batch]:
    """Two halves of a batch (rows), e.g. to retry after running out of memory."""
    h = batch.input_ids.shape[0] // 2

    def part(sl: slice) -> Batch:
        return Batch(batch.input_ids[sl], batch.attention_mask[sl], batch.position_ids[sl], batch.last_index[sl],
                     batch.text_mask[sl], None if batch.pst_index is None else batch.pst_index[sl],
                     batch.right_padded)

    return part(slice(0, h)), part(slice(h, None))


def decoder_layers(model) -> torch.nn.ModuleList:
    """The decoder blocks of a base model (LlamaModel, Qwen3Model, ...)."""
    for path in ("layers", "model.layers", "language_model.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise ValueError(f"Cannot find the decoder layers of {type(model).__name__}")


@contextmanager
def token_prepending(model, batch: Batch, layers: range) -> Iterator[None]:
    """Before each layer in ``layers``, overwrite the placeholder's state with the last token's."""
    if batch.pst_index is None:
        raise ValueError("Token prepending needs a template with a {pst} placeholder")
    rows = torch.arange(batch.input_ids.shape[0], device=batch.input_ids.device)

    def hook(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        hidden = hidden.clone()
        hidden[rows, batch.pst_index] = hidden[rows, batch.last_index]
        if args:
            return (hidden, *args[1:]), kwargs
        return args, dict(kwargs, hidden_states=hidden)

    blocks = decoder_layers(model)
    handles = [blocks[i].register_forward_pre_hook(hook, with_kwargs=True) for i in layers]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def prefix_rotation(model, batch: Batch, position: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin (B, D) that re-rotate a key from each row's last position to ``position``."""
    rotary = getattr(model, "rotary_emb", None)
    if rotary is None:
        raise ValueError(f"{type(model).__name__} has no single rotary embedding to re-rotate the prefix with")
    delta = (position - batch.last_index)[:, None]
    probe = torch.zeros(1, dtype=next(model.parameters()).dtype, device=delta.device)
    try:
        cos, sin = rotary(probe, delta)
    except TypeError as err:
        raise ValueError(f"Prefix re-rotation is not supported for {type(model).__name__}: {err}") from None
    scale = float(getattr(rotary, "attention_scaling", 1.0))
    return (cos[:, 0] / scale).float(), (sin[:, 0] / scale).float()


def _call(model, batch: Batch, state: RoutingState | None, output_hidden_states: bool):
    kwargs = {"kvembed_state": state} if state is not None else {}
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=batch.position_ids,
                use_cache=False, output_hidden_states=output_hidden_states, **kwargs)
    if state is not None and state.visited != state.layers:
        raise RuntimeError(
            f"Re-routing reached layers {sorted(state.visited)} but {sorted(state.layers)} were selected: this "
            f"model does not pass extra keywords to its attention function (attn_implementation="
            f"{model.config._attn_implementation!r})"
        )
    return out


def run(model, batch: Batch, *, routing: Routing | None = None, layers: Sequence[int] = (),
        tp_layers: range | None = None, output_hidden_states: bool = False):
    """Forward one batch; returns the model output (``last_hidden_state``, optionally ``hidden_states``)."""
    with torch.inference_mode(), (token_prepending(model, batch, tp_layers) if tp_layers else nullcontext()):
        if routing is None or not layers:
            return _call(model, batch, None, output_hidden_states)
        common = dict(layers=frozenset(layers), last_index=batch.last_index, bias=float(routing.bias),
                      impl=routing.impl, right_padded=batch.right_padded)
        if routing.prefix_position is not None:
            common["prefix_rotation"] = prefix_rotation(model, batch, int(routing.prefix_position))
        if routing.mode == "bidirectional":
            return _call(model, batch, RoutingState("bidirectional", padding_mask=batch.real, **common),
                         output_hidden_states)
        if routing.mode == "two_pass":
            first = RoutingState("capture", **common)
            _call(model, batch, first, False)
            return _call(model, batch, RoutingState("inject", captured=first.captured, **common),
                         output_hidden_states)
        return _call(model, batch, RoutingState("reroute", **common), output_hidden_states)

