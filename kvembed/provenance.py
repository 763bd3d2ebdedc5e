"""Which code made a number: a hash of the package source that determines it.

``code_version("embeddings")`` covers the core library (what turns a text into a vector);
``code_version("scores")`` adds the evaluation layer (tasks, the mteb adapter, per-item scores). The
embedding cache keys on the first and the runner's resume check on the second, so after a fix a rerun
computes again instead of reusing what the old code made. The hash is of file contents, so it is the same
in a clean checkout, an editable install and a wheel; ``git_commit`` (with ``-dirty``) says which commit.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from .paths import stable_hash

PACKAGE = Path(__file__).resolve().parent
SCOPES = {"embeddings": ("core",), "scores": ("core", "eval")}
_ABOVE_CORE = ("eval", "harness", "report", "configs")
_ENTRY_POINTS = ("cli.py", "run.py")


def _layer(relative: Path) -> str:
    top = relative.parts[0]
    if top in _ABOVE_CORE:
        return top
    return "entry" if relative.name in _ENTRY_POINTS and len(relative.parts) == 1 else "core"


def source_files(scope: str, root: Path = PACKAGE) -> list[Path]:
    """The package's ``.py`` files that determine ``scope`` (``embeddings`` or ``scores``)."""
    if scope not in SCOPES:
        raise ValueError(f"Unknown code scope {scope!r}; choose one of {sorted(SCOPES)}")
    layers = SCOPES[scope]
    return sorted(p for p in root.rglob("*.py") if _layer(p.relative_to(root)) in layers)


def code_version(scope: str = "scores", root: Path = PACKAGE) -> str:
    """A short hash of the source that determines ``scope`` (read afresh: a few dozen small files)."""
    files = source_files(scope, root)
    return stable_hash([(p.relative_to(root).as_posix(), p.read_text(encoding="utf-8")) for p in files], 12)


# Outputs, not code: a driver re-renders ``results/*.md`` between the jobs of one regeneration, and that must
# not mark the next job's rows as made by a modified tree.
OUTPUTS = ("results",)


@cache
def git_commit(root: Path = PACKAGE) -> str:
    """The checkout's commit, with ``-dirty`` when tracked files other than the committed results
    (``OUTPUTS``) differ from it; ``unknown`` outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=root).stdout.strip()
        outputs = [f":(top,exclude){folder}" for folder in OUTPUTS]
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)", *outputs],
                               capture_output=True, text=True, cwd=root).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
