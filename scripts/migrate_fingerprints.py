"""Give committed result rows this code's fingerprint where it is shown that their commit computes the same.

Every row that is not ``current`` (made before fingerprints were recorded, or fingerprinted by an earlier
version of the probe: after a change to ``kvembed/store/fingerprint.py`` itself) is re-certified at its
own commit: the commit recorded in ``git_commit`` is checked out beside this one (a git worktree), this
checkout's probe (the measuring instrument) is put into it and run against that commit's code, for every
(method, overrides, task instructions, task type) its rows hold. Where the old code's fingerprint equals this
code's, and the row's torch / transformers / mteb versions are the installed ones, the rows get this code's
fingerprint columns (their ``git_commit`` stays: they were made there). Every other row is left as it is and
listed, to be regenerated from a clean commit.

    python scripts/migrate_fingerprints.py                 # migrate results/runs, print what is left
    python scripts/migrate_fingerprints.py --dry-run       # only say what would happen
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kvembed.store import fingerprint  # noqa: E402
from kvembed.store.fingerprint import is_current  # noqa: E402
from kvembed.store.results import read_result, task_files, write_table  # noqa: E402

log = logging.getLogger("migrate_fingerprints")
COLUMNS = ("fingerprint", "fingerprint_embeddings", "fingerprint_evaluation")

# Runs inside the old commit's checkout: kvembed resolves to that commit's package, with the probe put in.
WORKER = """
import json, sys
import kvembed
from kvembed.store import fingerprint as f
request = json.load(open(sys.argv[1]))
out = {"package": kvembed.__file__, "embeddings": {}, "evaluation": {}}
for key in request["embeddings"]:
    method, overrides, instructions = json.loads(key)
    out["embeddings"][key] = f.embeddings_fingerprint(method, overrides, request["models"], instructions)
for key in request["evaluation"]:
    out["evaluation"][key] = f.evaluation_fingerprint(*json.loads(key))
json.dump(out, open(sys.argv[2], "w"))
"""


def probe_at(commit: str, embeddings: list[str], evaluation: list[str], models: dict[str, str]) -> dict:
    """The probe's outputs for the given configurations and task types, computed by ``commit``'s code."""
    with tempfile.TemporaryDirectory(prefix="kvembed-migrate-") as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), commit], cwd=ROOT, check=True)
        try:
            # the probe goes where that commit's package keeps it (kvembed/harness/ before the store moved out)
            layer = "store" if (tree / "kvembed" / "store").is_dir() else "harness"
            shutil.copy(ROOT / "kvembed" / "store" / "fingerprint.py", tree / "kvembed" / layer / "fingerprint.py")
            request, answer = Path(tmp) / "request.json", Path(tmp) / "answer.json"
            request.write_text(json.dumps({"embeddings": embeddings, "evaluation": evaluation, "models": models}))
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run([sys.executable, "-c", WORKER, str(request), str(answer), f"kvembed.{layer}.fingerprint"],
                           cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
            got = json.loads(answer.read_text())
            if not Path(got["package"]).is_relative_to(tree):  # the instrument must measure the old code, not this
                raise RuntimeError(f"kvembed resolved to {got['package']}, not to the checkout of {commit}")
            return got
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def embeddings_key(row: pd.Series) -> str:
    return json.dumps([row["method"], json.loads(row["overrides"]), bool(row["use_instructions"])])


def evaluation_key(row: pd.Series) -> str:
    return json.dumps([str(row["task_type"]), bool(row["use_instructions"])])


def stsb_tables(results: Path, versions_at: dict[str, str]) -> dict[Path, pd.DataFrame]:
    """``results/stsb_*.parquet`` (scripts/stsb_methods.py) with the columns that script records now: each row's
    overrides (none) and task type, the header its table was rendered with, and the package versions. Those
    tables did not record versions; they are taken from the result files made at the same commit, and only
    where those all agree (else the table is left to be regenerated)."""
    out = {}
    for path in sorted(results.glob("stsb_*.parquet")):
        df = pd.read_parquet(path)
        if "fingerprint" in df and is_current(df).all():
            continue
        md = path.with_suffix(".md").read_text()
        commit = str(df["git_commit"].iloc[0])
        if "header" not in df:  # written before the script recorded these columns
            df = df.assign(overrides="{}", task_type="STS", use_instructions=False,
                           header=md[:md.index("| method")], versions=versions_at.get(commit, "{}"))
        out[path] = df
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "results")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("kvembed", "mteb", "transformers", "datasets"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    files: dict[Path, pd.DataFrame] = {}
    for path in task_files(args.results / "runs"):
        df = read_result(path)
        if "fingerprint" not in df or not is_current(df).all():  # else current already
            files[path] = df
    seen: dict[str, set[str]] = defaultdict(set)
    for df in files.values():
        seen[str(df["git_commit"].iloc[0])].add(str(df["versions"].iloc[0]))
    files.update(stsb_tables(args.results, {c: next(iter(v)) for c, v in seen.items() if len(v) == 1}))
    # every row: (commit, method, overrides, task type) -> the files and rows that need its fingerprint
    by_commit: dict[str, list[Path]] = defaultdict(list)
    for path, df in files.items():
        for commit in df["git_commit"].astype(str).unique():
            by_commit[commit].append(path)
    log.info("%d result files not current, made at %d commits", len(files), len(by_commit))

    now = fingerprint.current()
    installed = fingerprint.versions()
    models = fingerprint.probe_models()
    old: dict[str, dict] = {}
    for commit, paths in sorted(by_commit.items()):
        if commit.endswith("-dirty") or commit == "unknown":
            continue
        rows = pd.concat([files[p] for p in paths])
        keys = sorted({embeddings_key(r) for _, r in rows.iterrows()})
        types = sorted({evaluation_key(r) for _, r in rows.iterrows()})
        log.info("%s: %d files, %d configurations, %d task types: probing that commit's code", commit[:10],
                 len(paths), len(keys), len(types))
        old[commit] = probe_at(commit, keys, types, models)

    migrated, left = 0, []
    for path, df in files.items():
        why, columns = None, []
        for _, r in df.iterrows():
            commit, method, overrides = str(r["git_commit"]), r["method"], json.loads(r["overrides"])
            instructions = bool(r["use_instructions"])
            recorded = json.loads(r["versions"])
            if commit not in old:
                why = "made from uncommitted code"
            elif any(recorded.get(k) != v for k, v in installed.items()):
                why = f"made with other package versions than the installed ones ({recorded or 'none recorded'})"
            else:
                row = now.row(method, overrides, str(r["task_type"]), instructions)
                same = {"embeddings": old[commit]["embeddings"][embeddings_key(r)] == row["fingerprint_embeddings"],
                        "evaluation": old[commit]["evaluation"][evaluation_key(r)] == row["fingerprint_evaluation"]}
                if not all(same.values()):
                    why = f"{commit[:10]} computes other {' and '.join(k for k, v in same.items() if not v)}"
                columns.append(row)
            if why:
                break
        if why:
            left.append((path, why))
            continue
        migrated += 1
        if not args.dry_run:
            write_table(df.assign(**pd.DataFrame(columns, index=df.index)), path)
    log.info("%s %d result files; %d left to regenerate", "would migrate" if args.dry_run else "migrated",
             migrated, len(left))
    reasons: dict[str, list[Path]] = defaultdict(list)
    for path, why in left:
        reasons[why].append(path)
    for why, paths in reasons.items():
        log.info("  %d files: %s", len(paths), why)
        for folder in sorted({str(p.parent.relative_to(args.results)) if "runs" in p.parts else p.name
                              for p in paths}):
            log.info("    %s", folder)

if __name__ == "__main__":
    main()
