"""Shared by the drivers: run a named experiment as one Hydra multirun, then render the tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "WANDB_MODE": "offline"}


def multirun(experiment: str, *overrides: str, offline: bool = False) -> None:
    """``python -m kvembed.run --multirun experiment=<name> [overrides]`` (finished tasks are skipped)."""
    env = dict(os.environ, **(OFFLINE if offline else {}))
    cmd = [sys.executable, "-m", "kvembed.run", "--multirun", f"experiment={experiment}", *overrides]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def render() -> None:
    from kvembed.tables import render as render_tables

    print(render_tables(ROOT / "results").read_text())


def preflight(backbones: list[str]) -> None:
    cmd = [sys.executable, str(ROOT / "scripts" / "preflight.py"), "--gpu", "--backbones", *backbones]
    if subprocess.run(cmd, cwd=ROOT).returncode != 0:
        raise SystemExit(2)
