"""Is the Hugging Face Hub usable from here? Fast answers, so nothing waits on a retry loop."""

from __future__ import annotations

import os
import socket
from functools import lru_cache

# The offline environment, stated once: tests, drivers, the Makefile (`python -m kvembed.hub`) and CI use it.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "offline",
               "TOKENIZERS_PARALLELISM": "false"}


def offline(datasets: bool = False) -> bool:
    """True when offline mode is on: HF_HUB_OFFLINE (models), or also HF_DATASETS_OFFLINE (datasets)."""
    names = ["HF_HUB_OFFLINE"] + (["HF_DATASETS_OFFLINE"] if datasets else [])
    return any(os.environ.get(n, "0").lower() in ("1", "true", "yes") for n in names)


@lru_cache(maxsize=4)
def _probe(host: str, timeout: float) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def reachable(timeout: float = 3.0) -> bool:
    """Can a TCP connection reach the hub endpoint (HF_ENDPOINT) within ``timeout`` seconds?"""
    host = os.environ.get("HF_ENDPOINT", "https://huggingface.co").split("://")[-1].split("/")[0]
    return _probe(host, timeout)


if __name__ == "__main__":
    print(" ".join(f"{k}={v}" for k, v in OFFLINE_ENV.items()))
