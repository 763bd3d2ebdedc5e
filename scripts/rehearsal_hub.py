"""Build the rehearsal hub: the paper's backbones under their real hub ids (published configurations at
small depth and width, random weights, each family's tokenizer conventions) in a Hugging Face hub cache.

    python scripts/rehearsal_hub.py --out outputs/rehearsal/hub
    HF_HUB_CACHE=outputs/rehearsal/hub HF_HUB_OFFLINE=1 python -m kvembed.run backbone=qwen3-4b ...

Nothing here is a real model: the folder exists so that the user's path (load by hub id, ``make prefetch``,
the runner, the tables) can be rehearsed with the hub switched off.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rehearsal import PUBLISHED, build_hub


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the hub cache folder to write (HF_HUB_CACHE layout)")
    ap.add_argument("--hub-ids", nargs="*", default=list(PUBLISHED), choices=list(PUBLISHED))
    args = ap.parse_args(argv)
    for hub_id, commit in build_hub(Path(args.out), args.hub_ids).items():
        print(f"{hub_id}: commit {commit}")
    print(f"Use it with: HF_HUB_CACHE={Path(args.out).resolve()} HF_HUB_OFFLINE=1")


if __name__ == "__main__":
    main()
