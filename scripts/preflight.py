"""Stop at once, with a clear message, when a full-size run cannot work here (no GPU, no hub and no cache).

    python scripts/preflight.py --gpu --backbones qwen3-4b mistral-7b llama-3.1-8b --benchmark mteb_table1
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--gpu", action="store_true", help="require a CUDA device")
    ap.add_argument("--backbones", nargs="*", default=[])
    args = ap.parse_args()
    problems = []
    import torch

    if args.gpu and not torch.cuda.is_available():
        problems.append("no CUDA GPU is visible: the 4-8B backbones of Table 1 take days on CPU. "
                        "Run on a GPU machine, or use `make reproduce-table1 PROFILE=offline` here.")
    from kvembed import pins
    from kvembed.backbones import BACKBONES, BackboneUnavailableError, _ensure_hub_available

    for name in args.backbones:
        spec = BACKBONES[name]
        try:
            _ensure_hub_available(spec.hub_id, pins.pinned(name))
        except BackboneUnavailableError as err:
            problems.append(str(err))
    for p in problems:
        print(f"preflight: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
