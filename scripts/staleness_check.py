"""Which committed rows an edit would mark stale: apply the edit to a scratch checkout of HEAD, commit it there,
and count, per method, the committed result rows that the edited code still calls ``current``.

    python scripts/staleness_check.py comments   # a comment in every module of the package (no row moves)
    python scripts/staleness_check.py pooling    # a one-token change in KV-Embedding's mean + last pooling

The scratch checkout is a git worktree in a temporary folder, removed afterwards; this checkout is untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

EDITS = {
    "comments": "a comment line at the top of every module of the package and before every def and class",
    "pooling": "pooling.py: (last + mean) / 2 -> (last - mean) / 2 (the mean + last pooling of KV-Embedding)",
}

COUNT = """
import json, sys
from pathlib import Path
import pandas as pd
from kvembed.store.results import load_results
from kvembed.report.tables import provenance
frames = [load_results(sys.argv[1])]
for f in Path(sys.argv[1]).glob("stsb_*.parquet"):
    frames.append(pd.read_parquet(f).assign(is_main=True, result_file=str(f)))
rows = pd.concat(frames, ignore_index=True)
rows = rows[rows["is_main"]].assign(code=lambda d: provenance(d))
print(json.dumps(rows.groupby(["method", "code"]).size().unstack(fill_value=0).to_dict(orient="index")))
"""


def edit(tree: Path, which: str) -> None:
    package = tree / "kvembed"
    if which == "comments":
        for path in package.rglob("*.py"):
            text = "# an added comment\n" + path.read_text()
            path.write_text(re.sub(r"^(\s*)(def |class )", r"\1# an added comment\n\1\2", text, flags=re.M))
    else:
        path = package / "pooling.py"
        text = path.read_text()
        old = "out = (last + _masked_mean(hidden, real)) / 2"
        assert text.count(old) == 1, "pooling.py no longer has the line this edit changes"
        path.write_text(text.replace(old, old.replace("+", "-")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("edit", choices=list(EDITS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kvembed-edit-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), "HEAD"], cwd=ROOT, check=True)
        try:
            edit(tree, args.edit)
            subprocess.run(["git", "commit", "-q", "-am", f"scratch: {EDITS[args.edit]}"], cwd=tree, check=True)
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run([sys.executable, "-c", COUNT, str(tree / "results")], cwd=tree, env=env,
                                 check=True, capture_output=True, text=True).stdout
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    counts = json.loads(out.strip().splitlines()[-1])
    print(f"edit: {EDITS[args.edit]}\n")
    print(f"{'method':<24}{'current':>9}{'older code':>12}{'dirty':>7}")
    for method, by in sorted(counts.items()):
        print(f"{method:<24}{by.get('current', 0):>9}{by.get('older code', 0):>12}{by.get('dirty', 0):>7}")


if __name__ == "__main__":
    main()
