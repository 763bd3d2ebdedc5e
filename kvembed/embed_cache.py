"""An on-disk embedding cache, so reruns and sweeps that change only evaluation settings re-encode nothing.

Keyed by (everything that determines an embedding: backbone, revision, dtype, the method's full
configuration, max_length, normalisation) × (role, text). Stored in SQLite (one file per cache folder):
transactions make concurrent jobs safe, and a killed job leaves no partial entry.
Modes: ``off``, ``read`` (use hits, store nothing), ``readwrite``.

Why the full method configuration and not, as mteb's cache wrapper does, the model name and the text:
kvembed runs many configurations of one model (layers, bias, prompt, pooling, TP/CP settings ...) under the
same backbone name, and two of them must never share a vector. The key is ``Encoder.describe()``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .paths import stable_hash
from .provenance import code_version

MODES = ("off", "read", "readwrite")


def text_key(role: str, text: str) -> str:
    return stable_hash([role, text], 64)


def role_key(role: str, instruction: str | None) -> str:
    """What an embedding's role is in the cache: the template role, with the task instruction if one is given."""
    return role if instruction is None else f"{role}\x1f{instruction}"


class EmbeddingCache:
    """Embeddings of one encoder configuration (``config`` is hashed into the key)."""

    def __init__(self, folder: Path | str, config: dict[str, Any], mode: str = "readwrite") -> None:
        if mode not in MODES:
            raise ValueError(f"Unknown cache mode {mode!r}; choose one of {MODES}")
        self.mode = mode
        self.config_key = stable_hash(config)
        self.path = Path(folder) / "embeddings.sqlite"
        self.hits = 0
        self.misses = 0
        if mode != "off":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("CREATE TABLE IF NOT EXISTS emb "
                           "(config TEXT, text TEXT, vec BLOB, PRIMARY KEY (config, text))")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def get(self, role: str, texts: Sequence[str], dim: int) -> dict[int, np.ndarray]:
        """Cached rows by input index (empty when off)."""
        if self.mode == "off" or not texts:
            return {}
        keys = [text_key(role, t) for t in texts]
        found: dict[str, np.ndarray] = {}
        with self._connect() as db:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                q = f"SELECT text, vec FROM emb WHERE config = ? AND text IN ({','.join('?' * len(chunk))})"
                for k, blob in db.execute(q, [self.config_key, *chunk]):
                    found[k] = np.frombuffer(blob, dtype=np.float32, count=dim)
        out = {i: found[k] for i, k in enumerate(keys) if k in found}
        self.hits += len(out)
        self.misses += len(keys) - len(out)
        return out

    def put(self, role: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        if self.mode != "readwrite" or not len(texts):
            return
        rows = [(self.config_key, text_key(role, t), np.ascontiguousarray(v, dtype=np.float32).tobytes())
                for t, v in zip(texts, vectors)]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)", rows)

    def size(self) -> int:
        """Entries stored for this configuration."""
        if self.mode == "off" or not self.path.exists():
            return 0
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM emb WHERE config = ?", [self.config_key]).fetchone()[0])

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else float("nan")


def cached_encode(cache: EmbeddingCache | None, texts: Sequence[str], role: str, dim: int,
                  encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """Rows from ``cache`` where present; ``encode`` the rest (and store them)."""
    out = np.zeros((len(texts), dim), dtype=np.float32)
    hits = cache.get(role, texts, dim) if cache else {}
    for i, vec in hits.items():
        out[i] = vec
    todo = [i for i in range(len(texts)) if i not in hits]
    if todo:
        out[todo] = encode([texts[i] for i in todo])
        if cache:
            cache.put(role, [texts[i] for i in todo], out[todo])
    return out


def attach(encoder: Any, folder: Path | str, mode: str) -> EmbeddingCache | None:
    """The cache for an encoder's configuration (its ``describe()``, less what does not change vectors)."""
    if mode == "off":
        return None
    key = {k: v for k, v in encoder.describe().items() if k not in ("device", "id_curve", "workers")}
    key["normalize"] = getattr(encoder, "normalize", True)
    key["code_version"] = code_version("embeddings")  # a fix to the core never serves vectors of the old code
    return EmbeddingCache(folder, key, mode)
