"""Data-parallel encoding: one worker process per GPU (or N CPU processes), each loading the model once.

The parent only tokenises: it forms exactly the length-sorted batches a single ``Encoder`` would, and
workers pull whole batches from a shared queue (so faster workers take more), embed them, and send the
rows back; the parent writes them in input order. Same batches as single-process encoding, so the same
embeddings.

    from kvembed.parallel import ParallelEncoder
    with ParallelEncoder("smollm2-135m", method="kvembed", workers=2) as enc:
        emb = enc.encode(texts)
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import time
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .backbones import load_tokenizer
from .encoder import Encoder, EncodingSurface
from .methods import MethodSpec, get_method
from .overrides import Overrides
from .prompts import MethodInputs, length_sorted_batches
from .recipe import Recipe

log = logging.getLogger(__name__)


def _worker(rank: int, device: str, threads: int, model: str, method: str, options: dict, tasks, results) -> None:
    try:
        torch.set_num_threads(threads)
        enc = Encoder.from_pretrained(model, method, device=device, **options)
        results.put(("ready", rank, enc.describe(), enc.dim, enc.recipe))
        while True:
            item = tasks.get()
            if item is None:
                return
            job, idx, items = item
            results.put(("rows", job, idx, enc.embed_encoded(items)))
    except BaseException:  # noqa: BLE001 - report every failure to the parent
        results.put(("error", rank, traceback.format_exc()))


class ParallelEncoder(EncodingSurface):
    """``Encoder``'s API over several worker processes (``encode``, the cache and the input checks are the
    Encoder's own, ``EncodingSurface``; only where batches are embedded differs)."""

    def __init__(self, model: str, method: str = "kvembed", *, workers: int | None = None,
                 devices: Sequence[str] | None = None, timeout: float = 3600, overrides: Overrides | None = None,
                 **options: Any) -> None:
        if devices is None:
            n_gpu = torch.cuda.device_count()
            devices = [f"cuda:{i}" for i in range(n_gpu)] if n_gpu else ["cpu"] * (workers or 2)
        if not devices:
            raise ValueError("ParallelEncoder needs at least one device")
        if "device" in options:
            raise ValueError("pass devices=[...] (one per worker) to ParallelEncoder, not device=")
        self.devices = list(devices)
        self.timeout = timeout
        self.cache = None
        self.stats: dict[str, float] = {"texts": 0, "tokens": 0, "seconds": 0.0, "oom_halvings": 0}
        self.recipe: Recipe | None = None  # the workers' (see _wait_ready)
        # the method's overrides as one object for the workers; a bad option fails here, before any worker starts
        overrides = Overrides.of(overrides, **{k: options.pop(k) for k in list(options) if k in Overrides.names()})
        self.spec = overrides.apply(get_method(method))
        options["overrides"] = overrides
        self.max_length = int(options.get("max_length", 512))
        self.tokenizer = load_tokenizer(model, options.get("revision"))
        cpu_workers = sum(d == "cpu" for d in self.devices)
        threads = max(1, (os.cpu_count() or 1) // max(1, cpu_workers))
        ctx = mp.get_context("spawn")  # fork is unsafe with torch threads and CUDA
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.procs = []
        self._job = 0
        # Worker 0 first: with layers=auto it estimates the ID curve once and caches it on disk; the
        # others then read the cache instead of repeating the estimate.
        for rank, device in enumerate(self.devices):
            proc = ctx.Process(target=_worker, args=(rank, device, threads, model, method, options, self.tasks,
                                                     self.results), daemon=True)
            proc.start()
            self.procs.append(proc)
            if rank == 0:
                self._wait_ready(1)
                # tokenise as the workers' recipe says (Token Prepending's paired prompt, for one)
                self.inputs = MethodInputs(self.tokenizer, self.recipe.spec, self.max_length)
        if len(self.devices) > 1:
            self._wait_ready(len(self.devices) - 1)

    def _get(self):
        try:
            msg = self.results.get(timeout=self.timeout)
        except queue.Empty:
            self.close()
            raise RuntimeError(f"ParallelEncoder: no answer from the workers in {self.timeout} s") from None
        if msg[0] == "error":
            self.close()
            raise RuntimeError(f"ParallelEncoder worker {msg[1]} failed:\n{msg[2]}")
        return msg

    def _wait_ready(self, n: int) -> None:
        for _ in range(n):
            _, _, info, dim, self.recipe = self._get()
        self.dim = int(dim)
        self.info = dict(info, workers=len(self.devices), device=",".join(self.devices))

    def describe(self) -> dict[str, Any]:
        """Worker 0's ``Encoder.describe()``, with the worker count and devices."""
        return dict(self.info)

    @property
    def method(self) -> MethodSpec:
        """The configured ``MethodSpec`` (as ``Encoder.method``)."""
        return self.spec

    @property
    def layers(self) -> tuple[int, ...]:
        return self.recipe.layers or ()

    def _encode_uncached(self, texts: list[str], prompt_type: str, batch_size: int, show: bool | None,
                         instruction: str | None = None) -> np.ndarray:
        # the parent serves cache hits (EncodingSurface.encode); workers only see the misses
        start = time.perf_counter()
        encoded = self.inputs.encode(texts, prompt_type, instruction)
        plan = length_sorted_batches(encoded, batch_size)
        self._job += 1
        for idx in plan:
            self.tasks.put((self._job, idx, [encoded[i] for i in idx]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for _ in plan:
            _, job, idx, rows = self._get()
            out[idx] = rows
        self.stats["texts"] += len(texts)
        self.stats["tokens"] += sum(len(e.ids) + (len(e.negative.ids) if e.negative else 0) for e in encoded)
        self.stats["seconds"] += time.perf_counter() - start
        return out

    def close(self) -> None:
        for _ in self.procs:
            self.tasks.put(None)
        for proc in self.procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
        self.procs = []

    def __enter__(self) -> ParallelEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
