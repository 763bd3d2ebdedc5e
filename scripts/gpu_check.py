"""The GPU check: re-routing at the paper backbones' real geometry on the accelerator, in one short script.

    python scripts/gpu_check.py                 # on a GPU (about 5 min): results/gpu_check.md
    python scripts/gpu_check.py --cpu --out X   # CPU mode (CI): the same structure at small width, no timings

For Qwen3-4B, Mistral-7B and Llama-3.1-8B (their published configurations, two layers, random weights,
``scripts/rehearsal.py``):

1. exactness: the flat and masked paths (and prefix re-rotation) against the independent slow reference
   (``tests/reference.py``), in fp32 and bf16, relative to the largest state;
2. which SDPA kernel runs (flash / memory-efficient / cuDNN / math, read from the profiler's aten ops) for
   the plain forward and with re-routing on each path;
3. texts/s and peak memory of re-routing (flat, masked) against the plain forward at 512, 2,048 and 4,096
   tokens (GPU only: CPU mode writes the structure without timings).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from rehearsal import SMALL, build_model, full_width  # noqa: E402

from kvembed import forward  # noqa: E402
from kvembed.backbones import load_backbone  # noqa: E402
from kvembed.layers import parse_layers  # noqa: E402
from kvembed.methods.base import Routing  # noqa: E402
from kvembed.methods.kvembed import COMPRESSION_PROMPT, KVEMBED  # noqa: E402
from kvembed.prompts import Encoded, PromptTokenizer  # noqa: E402
from kvembed.recipe import Recipe, resolve  # noqa: E402
from tests import reference  # noqa: E402

PAPER = ["Qwen/Qwen3-4B", "mistralai/Mistral-7B-v0.1", "meta-llama/Llama-3.1-8B"]
SENTENCES = ["A girl is styling her hair.", "A group of men play soccer on the beach while the sun sets.",
             "Stocks fell sharply on Monday after the central bank raised interest rates again.", "A cat."]
LENGTHS = (512, 2048, 4096)
KERNELS = {"flash": "_scaled_dot_product_flash_attention", "memory-efficient": "_scaled_dot_product_efficient",
           "cudnn": "_scaled_dot_product_cudnn", "math": "_scaled_dot_product_attention_math"}
LAYER = 1  # of two


def recipe(bb, impl: str | None, **extra) -> Recipe | None:
    """Re-routing at ``LAYER`` with ``impl`` (None: the plain forward)."""
    if impl is None:
        return None
    return resolve(replace(KVEMBED, routing=Routing(layers=parse_layers([LAYER]), impl=impl, **extra)), bb.facts)


def run(bb, batch, impl: str | None, **extra) -> torch.Tensor:
    return forward.run(bb.model, batch, recipe(bb, impl, **extra)).last_hidden_state


def exactness(folder: Path, device: str) -> list[dict]:
    rows = []
    reference.register()
    for dtype in ("float32", "bfloat16"):
        ours = load_backbone(str(folder), dtype=dtype, device=device)
        ref = load_backbone(str(folder), dtype=dtype, device=device, attn_implementation=reference.NAME)
        params = dict(ours.model.config.rope_parameters)
        scaling = params if params.get("rope_type") not in (None, "default") else None
        pt = PromptTokenizer(ours.tokenizer, COMPRESSION_PROMPT.document, 512)
        for side in ("right", "left"):
            batch = forward.make_batch(pt.encode(SENTENCES), ours.tokenizer.pad_token_id, side, device)
            for label, extra, ctx in (
                    ("re-routing", {}, reference.RefContext(batch.real, frozenset({LAYER}), 1.0)),
                    ("prefix re-rotated", {"prefix_position": 0},
                     reference.RefContext(batch.real, frozenset({LAYER}), 1.0, prefix_position=0,
                                          rope_theta=params["rope_theta"], rope_scaling=scaling))):
                want = reference.reference_forward(ref.model, batch, ctx).float()
                scale = float(want[batch.real].abs().max())
                for impl in ("flat", "masked"):
                    got = run(ours, batch, impl, **extra).float()
                    diff = float((got - want)[batch.real].abs().max()) / scale
                    rows.append({"dtype": dtype, "padding": side, "routing": label, "path": impl,
                                 "max rel. diff": diff, "ok": diff < (1e-5 if dtype == "float32" else 2e-2)})
        del ours, ref
    return rows


def synthetic(bb, n: int, batch_size: int, device: str):
    ids = tuple(torch.randint(10, 1000, (n,), generator=torch.Generator().manual_seed(n)).tolist())
    return forward.make_batch([Encoded(ids, (0, n), None, False)] * batch_size, bb.tokenizer.pad_token_id,
                              "right", device)


def kernels(bb, device: str) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    batch = synthetic(bb, 256, 2, device)
    rows = []
    for impl in (None, "flat", "masked"):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run(bb, batch, impl)
        names = {e.name for e in prof.events()}
        found = [k for k, op in KERNELS.items() if any(op in n for n in names)]
        rows.append({"dtype": str(bb.model.dtype).replace("torch.", ""), "forward": impl or "plain",
                     "SDPA kernel(s)": ", ".join(found) or "none (explicit matmul/softmax)"})
    return rows


def speed(bb, device: str, timed: bool) -> list[dict]:
    rows = []
    for n in LENGTHS if timed else (64,):
        batch_size = max(1, 8192 // n) if timed else 2
        batch = synthetic(bb, n, batch_size, device)
        base = None
        for impl in (None, "flat", "masked"):
            row = {"tokens": n, "batch": batch_size, "forward": impl or "plain"}
            if timed:
                run(bb, batch, impl)  # warm-up
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                start, reps = time.perf_counter(), 3
                for _ in range(reps):
                    run(bb, batch, impl)
                torch.cuda.synchronize()
                tps = reps * batch_size / (time.perf_counter() - start)
                peak = torch.cuda.max_memory_allocated() / 2**20
                base = base or (tps, peak)
                row.update({"texts/s": round(tps, 1), "peak MiB": round(peak),
                            "speed vs plain": round(tps / base[0], 3), "memory vs plain": round(peak / base[1], 3)})
            else:
                run(bb, batch, impl)
                row.update({"texts/s": "n/a (CPU mode)", "peak MiB": "n/a", "speed vs plain": "n/a",
                            "memory vs plain": "n/a"})
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cpu", action="store_true", help="CPU mode: small width, structure only, no timings")
    ap.add_argument("--out", default=str(ROOT / "results" / "gpu_check.md"))
    args = ap.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here; run with --cpu for the structure check")
    device = "cpu" if args.cpu else "cuda"
    parts = [f"# GPU check: re-routing at the paper backbones' geometry\n\nRegenerate: `make gpu-check`. Device: "
             f"{torch.cuda.get_device_name(0) if device == 'cuda' else 'CPU (structure only, small width)'}; "
             f"torch {torch.__version__}. Models: the published configurations with two layers and random "
             "weights (`scripts/rehearsal.py`), "
             + ("full width.\n" if device == "cuda" else f"width {SMALL['hidden_size']} (CPU mode).\n")]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for hub_id in PAPER:
            size = full_width(hub_id) if device == "cuda" else dict(
                full_width(hub_id), hidden_size=SMALL["hidden_size"], intermediate_size=SMALL["intermediate_size"])
            folder = build_model(hub_id, Path(tmp) / hub_id.replace("/", "--"), dtype="float32", **size)
            exact = pd.DataFrame(exactness(folder, device))
            ok &= bool(exact["ok"].all())
            bb = load_backbone(str(folder), dtype="bfloat16" if device == "cuda" else "float32", device=device)
            parts += [f"\n## {hub_id}\n\nExactness against the reference (tolerance 1e-5 in fp32, 2e-2 in bf16):\n\n",
                      exact.to_markdown(index=False, floatfmt=".2e"), "\n\nSDPA kernels:\n\n",
                      pd.DataFrame(kernels(bb, device)).to_markdown(index=False),
                      "\n\nThroughput and peak memory against the plain forward:\n\n",
                      pd.DataFrame(speed(bb, device, timed=device == "cuda")).to_markdown(index=False), "\n"]
            del bb
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(parts))
    print(out.read_text())
    if not ok:
        raise SystemExit("gpu_check: some path differs from the reference beyond tolerance (see the table)")


if __name__ == "__main__":
    main()
