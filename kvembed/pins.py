"""Pinned backbone revisions: one lock file, written by ``make prefetch``, read wherever a backbone is loaded.

The file lives beside the hub cache whose snapshots it pins (``$HF_HUB_CACHE/kvembed-revisions.json``), or
where ``$KVEMBED_REVISIONS`` says, never in the source tree: a pin leaves the checkout clean, and a cluster
that shares one hub cache shares its pins. ``Encoder.from_pretrained("qwen3-4b")``, the Hydra runner and the
workers all load through ``backbones.locate``, which takes an explicit revision first, then the pin.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from .paths import atomic_write_bytes

ENV = "KVEMBED_REVISIONS"
FILE_NAME = "kvembed-revisions.json"


def hub_cache() -> Path:
    """The Hugging Face hub cache folder, as huggingface_hub resolves it from the environment."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(home) / "hub"


def lock_path() -> Path:
    """Where the pins are kept: ``$KVEMBED_REVISIONS``, else beside the hub cache."""
    return Path(os.environ[ENV]) if os.environ.get(ENV) else hub_cache() / FILE_NAME


def read_pins(path: Path | None = None) -> dict[str, str]:
    """Backbone name → pinned commit (empty when nothing is pinned); a damaged file is a clear error."""
    path = path or lock_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        revisions = data["revisions"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"The revision lock file {path} is unreadable ({type(err).__name__}); run `make prefetch` "
                         "again or delete it") from err
    return {str(k): str(v) for k, v in revisions.items()}


def pinned(name: str) -> str | None:
    """The pinned commit of a named backbone, or None."""
    return read_pins().get(name)


def write_pins(revisions: Mapping[str, str], path: Path | None = None) -> Path:
    """Add ``revisions`` to the lock file in one atomic write (earlier pins of other backbones stay)."""
    path = path or lock_path()
    merged = {**read_pins(path), **dict(revisions)}
    payload = {"about": "backbone revisions pinned by `make prefetch` (scripts/prefetch.py); kvembed loads these",
               "revisions": dict(sorted(merged.items()))}
    atomic_write_bytes(path, (json.dumps(payload, indent=1) + "\n").encode())
    return path
