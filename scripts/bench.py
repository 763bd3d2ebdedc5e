"""Throughput and memory of KV-Embedding against one plain forward pass, measured side by side.

    python scripts/bench.py                       # SmolLM2-135M on this machine (CPU: 128, 512, 2048 tokens)
    python scripts/bench.py --model mistral-7b --dtype bfloat16 --lengths 128 512 2048 4096   # on a GPU

In one process the methods are interleaved over ``--repeats`` rounds (so drift in machine load hits all
of them alike) and each is timed on the same synthetic texts of exactly N tokens. Reported per method and
length: texts/s, tokens/s and peak memory above the loaded model, each the median over rounds (process RSS sampled
every millisecond on CPU; ``max_memory_allocated`` on CUDA), and the ratios to the plain forward with mean
pooling (the floor). Also: length-sorted batching against arrival order on STS-B test texts, the one-off
cost of ``layers=auto``, and a plain sentence-transformers encode of the same model where it loads.
Writes ``results/bench.md`` and ``results/bench.parquet``.
"""

from __future__ import annotations

import os
import sys

# Re-exec with glibc's mmap threshold fixed, so freed tensors go back to the OS at once: glibc otherwise raises
# the threshold after large frees and keeps the memory in its heap, so the first method measured would pay for
# every later one and RSS deltas would lie. Done before the heavy imports, which the new process makes anyway.
if __name__ == "__main__" and os.environ.get("MALLOC_MMAP_THRESHOLD_") is None:
    os.execve(sys.executable, [sys.executable, *sys.argv], dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536"))

import argparse
import ctypes
import platform
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from kvembed import Encoder
from kvembed.backbones import load_backbone, locate
from kvembed.overrides import configure
from kvembed.paths import atomic_write_bytes
from kvembed.provenance import git_commit

METHODS = {  # label -> (method, overrides)
    "plain (mean)": ("mean", {}),
    "kvembed (auto)": ("kvembed", {}),
    "kvembed prompt, no re-routing": ("kvembed_no_reroute", {}),  # isolates the re-routing cost
    "kvembed (all layers)": ("kvembed", {"layers": "all"}),
    "kvembed (auto, masked path)": ("kvembed", {"routing_impl": "masked"}),
    "prompteol": ("prompteol", {}),
    "echo": ("echo", {}),
    "token_prepending": ("token_prepending", {}),
    "cp": ("cp", {}),
}


# on 2 CPU cores each method costs ~2 min per round at 2,048 tokens x 16 texts, so the rest (all layers, Token
# Prepending, CP) is opt-in: `--methods all`, or name them
DEFAULT_METHODS = ["plain (mean)", "kvembed (auto)", "kvembed prompt, no re-routing", "kvembed (auto, masked path)",
                   "prompteol", "echo"]

NO_REROUTE = "kvembed prompt, no re-routing"


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocator, or RSS sampled by a thread on CPU."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak_mb = 0.0

    @staticmethod
    def _rss_mb() -> float:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self) -> PeakMemory:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated() / 2**20
        else:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            self.base = self._rss_mb()
            self.stop = False
            self.top = self.base

            def sample() -> None:
                while not self.stop:
                    self.top = max(self.top, self._rss_mb())
                    time.sleep(0.001)

            self.thread = threading.Thread(target=sample, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak_mb = torch.cuda.max_memory_allocated() / 2**20 - self.base
        else:
            self.stop = True
            self.thread.join()
            self.peak_mb = self.top - self.base


def texts_of_length(tokenizer, n_tokens: int, count: int, seed: int = 0) -> list[str]:
    """``count`` distinct texts of exactly ``n_tokens`` tokens each (real words from STS-B)."""
    from kvembed.data.stsb import unique_sentences

    words = " ".join(unique_sentences("train")).split()
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        start = int(rng.integers(0, len(words) - 4 * n_tokens))
        ids = tokenizer(" ".join(words[start:start + 4 * n_tokens]), add_special_tokens=False)["input_ids"]
        out.append(tokenizer.decode(ids[:n_tokens]))
    return out


def timed(enc: Encoder, texts: list[str], batch_size: int) -> tuple[float, float, int]:
    with PeakMemory(enc.backbone.device) as mem:
        before = enc.stats["tokens"]
        start = time.perf_counter()
        enc.encode(texts, batch_size=batch_size, show_progress_bar=False)
        if enc.backbone.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return seconds, mem.peak_mb, int(enc.stats["tokens"] - before)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--lengths", type=int, nargs="+", default=None)
    ap.add_argument("--tokens", type=int, default=4096, help="tokens per measurement (texts = tokens // length)")
    ap.add_argument("--min-texts", type=int, default=16, help="at least this many texts per measurement")
    ap.add_argument("--sts-texts", type=int, default=600, help="STS-B texts for the batching comparison")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=[*METHODS, "all"],
                    help="method labels to time (default: the re-routing comparisons, PromptEOL and Echo)")
    ap.add_argument("--out", type=Path, default=Path("results/bench.md"))
    ap.add_argument("--skip-extras", action="store_true",
                    help="only the method table (no batching, auto-cost and sentence-transformers lines)")
    args = ap.parse_args()
    if "all" in args.methods:
        args.methods = list(METHODS)
    backbone = load_backbone(args.model, dtype=args.dtype)
    on_gpu = backbone.device.startswith("cuda")
    lengths = args.lengths or ([128, 512, 2048, 4096] if on_gpu else [128, 512, 2048])
    machine = (torch.cuda.get_device_name() if on_gpu else
               f"{platform.machine()} CPU, {torch.get_num_threads()} threads")

    room = 2 * max(lengths) + 128  # Echo's two copies fit: no method is truncated
    auto = Encoder.from_pretrained(backbone, method="kvembed", max_length=room)  # layers=auto (timed in extras)
    encoders = {}
    for label in args.methods:
        name, overrides = METHODS[label]
        if label == "kvembed (auto)":
            encoders[label] = auto
            continue
        if name == "kvembed" and "layers" not in overrides:
            overrides = dict(overrides, layers=list(auto.layers))
        encoders[label] = Encoder(backbone, configure(name, **overrides), max_length=room)

    if not args.skip_extras:  # timed in the same interleaved rounds, on the same texts and batch size
        st = SentenceTransformersEncoder.load(backbone)
        if isinstance(st, str):
            print(f"  {st}")
        else:
            encoders[ST_LABEL] = st
    rows = []
    labels = list(encoders)
    for n in lengths:
        count = max(args.min_texts, args.tokens // n)
        texts = texts_of_length(backbone.tokenizer, n, count)
        for enc in encoders.values():  # warm-up (allocator, kernels)
            enc.encode(texts[: min(2, count)], batch_size=args.batch_size, show_progress_bar=False)
        for r in range(args.repeats):
            # each round starts with another method, so no method always pays for being measured first
            for label in labels[r % len(labels):] + labels[: r % len(labels)]:
                enc = encoders[label]
                seconds, peak, tokens = timed(enc, texts, args.batch_size)
                rows.append({"length": n, "method": label, "round": r, "texts_per_s": count / seconds,
                             "tokens_per_s": tokens / seconds, "peak_mb": peak, "texts": count})
                print(f"  {n:5d} tok  {label:22s} round {r}: {count / seconds:8.2f} texts/s  peak +{peak:7.1f} MiB",
                      flush=True)
    commit = git_commit()
    raw = pd.DataFrame(rows).assign(git_commit=commit)  # a timing, like a score, names the code it measured
    agg = raw.groupby(["length", "method"], as_index=False).agg(
        texts_per_s=("texts_per_s", "median"), tokens_per_s=("tokens_per_s", "median"),
        # median, not max: the first measurement of a process also pays for allocator growth, and with the
        # order rotating that lands on a different method each round (plain once read 76 MB vs ~36 MB)
        peak_mb=("peak_mb", "median"))
    base = agg[agg["method"] == "plain (mean)"].set_index("length")
    agg["speed_vs_plain"] = agg.apply(lambda r: r["texts_per_s"] / base.loc[r["length"], "texts_per_s"], axis=1)
    agg["memory_vs_plain"] = agg.apply(lambda r: r["peak_mb"] / max(base.loc[r["length"], "peak_mb"], 1e-6), axis=1)
    # The prompt alone lengthens every input; against the same prompt without re-routing the ratio is
    # the cost of re-routing itself.
    same = agg[agg["method"] == NO_REROUTE].set_index("length")
    agg["speed_vs_same_prompt"] = agg.apply(
        lambda r: r["texts_per_s"] / same.loc[r["length"], "texts_per_s"]
        if r["method"].startswith("kvembed") and r["length"] in same.index else float("nan"), axis=1)

    table = agg.round({"texts_per_s": 2, "tokens_per_s": 0, "peak_mb": 1, "speed_vs_plain": 3,
                       "memory_vs_plain": 3, "speed_vs_same_prompt": 3}).to_markdown(index=False)
    header = (f"# Throughput and memory: KV-Embedding vs one plain forward\n\nMachine: {machine}; backbone "
              f"`{args.model}` ({backbone.dtype}); batch {args.batch_size}; {args.repeats} interleaved rounds "
              "(medians over the rounds of texts/s and of the peak memory above the loaded model: CUDA allocator, "
              "or process RSS with glibc's mmap threshold fixed so freed memory is returned). "
              f"Code: commit `{commit}`.\n\n"
              "Command: `python scripts/bench.py "
              f"--model {args.model}" + (f" --dtype {args.dtype}" if args.dtype != "auto" else "") +
              f" --lengths {' '.join(map(str, lengths))} --tokens {args.tokens} --min-texts {args.min_texts}"
              f" --repeats {args.repeats}"
              f" --batch-size {args.batch_size}"
              + (f" --methods {' '.join(repr(m) for m in args.methods)}" if args.methods != DEFAULT_METHODS else "")
              + (" --skip-extras" if args.skip_extras else "") + "`\n\n"
              "Columns: `speed_vs_plain` is texts/s against the plain forward at the same text length (each "
              "method's prompt, and Echo's second copy, included in its cost); `speed_vs_same_prompt` compares "
              "the kvembed rows with the same compression prompt without re-routing, i.e. the cost of "
              "re-routing itself; `tokens_per_s` counts every token the model processes.\n\n")
    extra = "\n" if args.skip_extras else extras(args, backbone, encoders, auto)
    print(header + table + extra)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out, (header + table + extra).encode())
    atomic_write_bytes(args.out.with_suffix(".parquet"), raw.to_parquet(index=False))


def extras(args, backbone, encoders, auto) -> str:
    """Length-sorted vs arrival-order batching, the cost of layers=auto, and sentence-transformers."""
    from kvembed.data.stsb import load_stsb

    sts = ([p.sentence1 for p in load_stsb("test")] + [p.sentence2 for p in load_stsb("test")])[: args.sts_texts]
    plain = encoders.get("plain (mean)") or next(iter(encoders.values()))
    t_sorted = timed(plain, sts, 32)[0]
    plain.sort_by_length = False
    t_arrival = timed(plain, sts, 32)[0]
    plain.sort_by_length = True

    cold, cached = auto_cost(backbone, auto.max_length)
    return (f"\n\n- Length-sorted batching vs arrival order (STS-B test, {len(sts)} texts, batch 32, plain "
            f"forward): {t_arrival / t_sorted:.2f}x faster sorted ({len(sts) / t_sorted:.1f} vs "
            f"{len(sts) / t_arrival:.1f} texts/s).\n- One-off cost of `layers=auto`: {cold:.1f} s with an empty "
            f"cache (the TwoNN estimate over {auto.recipe.routing.layers.n_samples:,} texts), {cached:.2f} s once "
            f"cached on disk; chosen layers {list(auto.layers)}.\n- `{ST_LABEL}`: sentence-transformers' "
            "Transformer + mean Pooling over the same weights, timed in the same rounds as the methods above "
            "(its `speed_vs_plain` is its texts/s over kvembed's plain forward's).\n")


def auto_cost(backbone, max_length: int) -> tuple[float, float]:
    """Seconds to build a layers=auto encoder with an empty layer cache (the ID estimate) and with it filled."""
    import tempfile
    from unittest import mock

    def build() -> float:
        start = time.perf_counter()
        Encoder.from_pretrained(backbone, method="kvembed", max_length=max_length)
        return time.perf_counter() - start

    # only the layer cache is read here: the backbone is already loaded
    with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"KVEMBED_CACHE": empty}):
        return build(), build()


class SentenceTransformersEncoder:
    """sentence-transformers' mean pooling of the same weights, behind the interface ``timed`` uses."""

    def __init__(self, model, device: str) -> None:
        self.model = model
        self.backbone = type("B", (), {"device": device})()
        self.stats = {"tokens": 0}

    @classmethod
    def load(cls, backbone) -> SentenceTransformersEncoder | str:
        try:
            from sentence_transformers import SentenceTransformer, models

            folder = locate(backbone.name)[1]  # the loadable folder (a GGUF backbone's converted copy)
            word = models.Transformer(folder, model_args={"dtype": getattr(torch, backbone.dtype)})
            if word.tokenizer.pad_token is None:
                word.tokenizer.pad_token = word.tokenizer.eos_token
            st = SentenceTransformer(modules=[word, models.Pooling(word.get_word_embedding_dimension(), "mean")],
                                     device=backbone.device)
            return cls(st, backbone.device)
        except Exception as err:  # noqa: BLE001 - report, do not fail the benchmark
            return f"sentence-transformers comparison unavailable: {type(err).__name__}: {err}"

    def encode(self, texts, batch_size: int = 32, show_progress_bar: bool = False):
        tok = self.model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        self.stats["tokens"] += sum(len(t) for t in tok)
        return self.model.encode(list(texts), batch_size=batch_size, show_progress_bar=show_progress_bar)


ST_LABEL = "sentence-transformers (mean)"


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
