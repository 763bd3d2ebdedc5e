"""One batch through the backbone, with the method's mechanics: re-routing (single pass, two-pass or
bidirectional ablations), Token Prepending and Contrastive Prompting. Returns the model output."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import torch

from .attention import RoutingState
from .hooks import decoder_layers, removing
from .prompts import Encoded
from .recipe import ContrastivePlan, Recipe, TokenPrependingPlan

PADDING_SIDES = ("right", "left")


@dataclass
class Batch:
    """Padded model inputs plus the indices that pooling and re-routing need."""

    input_ids: torch.Tensor  # (B, S)
    attention_mask: torch.Tensor  # (B, S) long, 1 on real tokens
    position_ids: torch.Tensor  # (B, S)
    last_index: torch.Tensor  # (B,) final real token of each row
    text_mask: torch.Tensor  # (B, S) bool, the (last copy of the) text; all real tokens if the text is empty
    pst_index: torch.Tensor | None  # (B,) Token Prepending placeholder
    content_mask: torch.Tensor | None = None  # (B, S) bool, real tokens after the leading specials (BOS)
    negative: Batch | None = None  # Contrastive Prompting's contrast prompts, same rows

    @property
    def real(self) -> torch.Tensor:
        return self.attention_mask.bool()

    @property
    def content(self) -> torch.Tensor:
        return self.real if self.content_mask is None else self.content_mask

    @property
    def num_tokens(self) -> int:
        return int(self.attention_mask.sum()) + (self.negative.num_tokens if self.negative is not None else 0)


def make_batch(items: Sequence[Encoded], pad_id: int, padding_side: str = "right",
               device: str | torch.device = "cpu") -> Batch:
    """Pad encoded inputs to one tensor batch (right or left padding)."""
    if padding_side not in PADDING_SIDES:
        raise ValueError(f"padding_side must be one of {PADDING_SIDES}, got {padding_side!r}")
    B, S = len(items), max(len(e.ids) for e in items)
    ids = torch.full((B, S), pad_id, dtype=torch.long)
    mask = torch.zeros((B, S), dtype=torch.long)
    text = torch.zeros((B, S), dtype=torch.bool)
    content = torch.zeros((B, S), dtype=torch.bool)
    last = torch.empty(B, dtype=torch.long)
    pst = torch.zeros(B, dtype=torch.long)
    for b, e in enumerate(items):
        n = len(e.ids)
        off = 0 if padding_side == "right" else S - n
        ids[b, off:off + n] = torch.tensor(e.ids, dtype=torch.long)
        mask[b, off:off + n] = 1
        content[b, off + min(e.content_start, n - 1):off + n] = True
        a, z = e.text_span
        if z > a:
            text[b, off + a:off + z] = True
        else:
            text[b, off:off + n] = True
        last[b] = off + n - 1
        if e.pst_index is not None:
            pst[b] = off + e.pst_index
            # <PST> is not in the model's vocabulary: any id will do, its input embedding is replaced
            ids[b, off + e.pst_index] = pad_id
    positions = (mask.cumsum(1) - 1).clamp_min(0)
    has_pst = items[0].pst_index is not None
    negative = None
    if items[0].negative is not None:
        negative = make_batch([e.negative for e in items], pad_id, padding_side, device)
    to = lambda t: t.to(device)  # noqa: E731
    return Batch(to(ids), to(mask), to(positions), to(last), to(text), to(pst) if has_pst else None,
                 content_mask=to(content), negative=negative)


def split_batch(batch: Batch) -> tuple[Batch, Batch]:
    """Two halves of a batch (rows), e.g. to retry after running out of memory."""
    h = batch.input_ids.shape[0] // 2

    def part(b: Batch | None, sl: slice) -> Batch | None:
        if b is None:
            return None
        rows = lambda t: None if t is None else t[sl]  # noqa: E731
        return Batch(b.input_ids[sl], b.attention_mask[sl], b.position_ids[sl], b.last_index[sl],
                     b.text_mask[sl], rows(b.pst_index), rows(b.content_mask),
                     part(b.negative, sl))

    return part(batch, slice(0, h)), part(batch, slice(h, None))


def token_prepending(model, batch: Batch, plan: TokenPrependingPlan):
    """<PST>'s input embedding set to the plan's seeded N(0, 1) row; before each layer in ``plan.layers`` its
    state overwritten with the last token's (a context manager)."""
    if batch.pst_index is None:
        raise ValueError("Token prepending needs a template with a {pst} placeholder")
    rows = torch.arange(batch.input_ids.shape[0], device=batch.input_ids.device)
    embed = model.get_input_embeddings()
    # Gemma-style embeddings scale their rows in forward; the new row is scaled like the others.
    scale = getattr(embed, "embed_scale", 1.0)
    placeholder = torch.randn(model.config.hidden_size, generator=torch.Generator().manual_seed(plan.seed))

    def set_placeholder(module, args, output):
        output = output.clone()
        output[rows, batch.pst_index] = (placeholder.to(output.device, torch.float32) * scale).to(output.dtype)
        return output

    def replace(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        hidden = hidden.clone()
        hidden[rows, batch.pst_index] = hidden[rows, batch.last_index]
        if args:
            return (hidden, *args[1:]), kwargs
        return args, dict(kwargs, hidden_states=hidden)

    blocks = decoder_layers(model)
    return removing(embed.register_forward_hook(set_placeholder),
                  *(blocks[i].register_forward_pre_hook(replace, with_kwargs=True) for i in plan.layers))


class _StopForward(Exception):
    """Raised by a capture hook once the activation it needs is recorded: the rest of the pass is waste."""


def o_proj_input_at_last(model, batch: Batch, layer: int) -> torch.Tensor:
    """(B, H·D) input of ``o_proj`` at ``layer`` for each row's final real token (the pass stops there)."""
    rows = torch.arange(batch.input_ids.shape[0], device=batch.input_ids.device)
    captured = []

    def capture(module, args):
        captured.append(args[0][rows, batch.last_index].clone())
        raise _StopForward

    with removing(decoder_layers(model)[layer].self_attn.o_proj.register_forward_pre_hook(capture)):
        try:
            _call(model, batch, None, False)
        except _StopForward:
            pass
    return captured[0]


def contrastive_steering(model, batch: Batch, plan: ContrastivePlan):
    """At ``plan.layer`` the last token's ``o_proj`` input A becomes coeff·(A − B), B from the contrast
    prompts (a context manager)."""
    if batch.negative is None:
        raise ValueError("Contrastive Prompting needs the contrast prompts' batch (Batch.negative)")
    negative = o_proj_input_at_last(model, batch.negative, plan.layer)
    rows = torch.arange(batch.input_ids.shape[0], device=batch.input_ids.device)

    def steer(module, args):
        x = args[0].clone()
        x[rows, batch.last_index] = plan.coeff * (x[rows, batch.last_index] - negative)
        return (x, *args[1:])

    return removing(decoder_layers(model)[plan.layer].self_attn.o_proj.register_forward_pre_hook(steer))


def prefix_rotation(model, batch: Batch, position: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin (B, D) that re-rotate a key from each row's last position to ``position``."""
    rotary = getattr(model, "rotary_emb", None)
    if rotary is None:
        raise ValueError(f"{type(model).__name__} has no single rotary embedding to re-rotate the prefix with")
    # The RoPE position of the last token, not its padded index: they differ with left padding.
    rows = torch.arange(batch.last_index.shape[0], device=batch.last_index.device)
    delta = (position - batch.position_ids[rows, batch.last_index])[:, None]
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
    if state is not None:
        state.check_reached(model)
    return out


def run(model, batch: Batch, recipe: Recipe | None = None, *, output_hidden_states: bool = False):
    """Forward one batch as ``recipe`` says (None: the plain model); returns the model output
    (``last_hidden_state``, optionally ``hidden_states``)."""
    with torch.inference_mode(), ExitStack() as stack:
        if recipe is not None and recipe.tp is not None:
            stack.enter_context(token_prepending(model, batch, recipe.tp))
        if recipe is not None and recipe.cp is not None:
            stack.enter_context(contrastive_steering(model, batch, recipe.cp))
        if recipe is not None and recipe.intervention_plan is not None:
            stack.enter_context(recipe.intervention_plan.hooks(model, batch))
        if recipe is None or not recipe.reroutes:
            return _call(model, batch, None, output_hidden_states)
        position, mode = recipe.routing.prefix_position, recipe.routing.mode
        rotation = prefix_rotation(model, batch, position) if position is not None else None
        rows = (batch.last_index, batch.real)
        if mode == "bidirectional":
            return _call(model, batch, RoutingState.of("bidirectional", recipe, *rows), output_hidden_states)
        if mode == "two_pass":
            first = RoutingState.of("capture", recipe, *rows, prefix_rotation=rotation)
            _call(model, batch, first, False)
            inject = RoutingState.of("inject", recipe, *rows, prefix_rotation=rotation, captured=first.captured)
            return _call(model, batch, inject, output_hidden_states)
        return _call(model, batch, RoutingState.of("single", recipe, *rows, prefix_rotation=rotation),
                     output_hidden_states)


def states_at(output, output_layer: int | None) -> torch.Tensor:
    """The hidden states an embedding is read from: the final normed ones, or ``hidden_states[k]``."""
    return output.last_hidden_state if output_layer is None else output.hidden_states[output_layer]
