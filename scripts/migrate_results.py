"""One-off, idempotent migration of result files written before the list-column schema:
``layers``, ``id_curve`` and ``tp_layers`` were ``str(list)`` and are now parquet list columns, and
``wandb_dir`` held the writing machine's absolute path (now relative to the working directory), and
``backbone_source`` of a packaged GGUF backbone was its cache folder (now ``pypi:<package>/<file>``).
Scores and every other column are left untouched.

    python scripts/migrate_results.py [results]
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

import pandas as pd

from kvembed.backbones import BACKBONES, recorded_source
from kvembed.harness import results

LIST_COLUMNS = ("layers", "id_curve", "tp_layers")


def _as_list(value):
    if not isinstance(value, str):
        return value
    parsed = ast.literal_eval(value.replace("nan", "None").replace("inf", "1e309"))
    if parsed is None:
        return None
    return [float("nan") if v is None else v for v in parsed]


def _portable(path):
    if not isinstance(path, str) or not os.path.isabs(path):
        return path
    return str(Path("wandb") / Path(path).name) if "/wandb/" in path else Path(path).name


def migrate(root: Path) -> int:
    changed = 0
    for f in results.task_files(root / "runs"):
        df = pd.read_parquet(f)
        before = df.copy()
        for col in LIST_COLUMNS:
            if col in df and df[col].map(lambda v: isinstance(v, str)).any():
                df[col] = df[col].map(_as_list)
        if "wandb_dir" in df:
            df["wandb_dir"] = df["wandb_dir"].map(_portable)
        if "backbone_source" in df:
            df["backbone_source"] = [
                recorded_source(BACKBONES.get(b), s) if isinstance(s, str) and os.path.isabs(s) else s
                for b, s in zip(df["backbone"], df["backbone_source"])]
        if not df.equals(before):
            results.write_table(df, f)
            changed += 1
    return changed


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results")
    print(f"migrated {migrate(root)} result files under {root}")
