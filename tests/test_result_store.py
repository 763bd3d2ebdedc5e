"""The result store survives the world: files damaged outside kvembed are set aside (never deleted) and their
tasks recomputed, readers skip them with a warning naming each, and two identical jobs compute each task once,
even when one of them is killed while it holds a task's lock."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from kvembed.harness.jobs import compose_config
from kvembed.harness.run import run
from kvembed.report import tables
from kvembed.store import results

pytestmark = pytest.mark.integration

BASE = ["backbone=tiny-llama", "benchmark=offline_smoke", "benchmark.limit=12", "layers=explicit",
        "layers.layers=[2,3]", "batch_size=8", "logger=none"]
TWO = "benchmark.tasks=[STSBenchmark,STSBGenreClassification.proxy]"


def cfg(out: Path, *extra: str):
    return compose_config([*BASE, f"results_dir={out}", *extra])


@pytest.fixture()
def made(tmp_path):
    """A finished job of two tasks: (results folder, the task files by task name)."""
    run(cfg(tmp_path, TWO))
    return tmp_path, {f.name.removesuffix(".parquet"): f for f in results.task_files(tmp_path / "runs")}


DAMAGE = {
    "zero bytes": lambda p: p.write_bytes(b""),
    "not parquet": lambda p: p.write_bytes(b"garbage, not a parquet file\n" * 10),
    "missing columns": lambda p: results.write_table(pd.read_parquet(p).drop(columns=["value", "overrides"]), p),
    "no rows": lambda p: results.write_table(pd.read_parquet(p).iloc[:0], p),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_task_file_is_named_set_aside_and_recomputed(made, damage, caplog):
    out, files = made
    path, other = files["STSBenchmark"], files["STSBGenreClassification.proxy"]
    before = path.read_bytes()
    DAMAGE[damage](path)
    untouched = other.stat().st_mtime_ns
    with caplog.at_level(logging.WARNING, logger="kvembed.store.results"):
        again = run(cfg(out, TWO))
    assert set(again["task_name"]) == {"STSBenchmark"}  # that task alone is recomputed
    assert other.stat().st_mtime_ns == untouched
    aside = path.with_name(path.name + ".corrupt")
    assert aside.exists() and aside.read_bytes() != before  # kept, as it was found
    assert str(path) in caplog.text
    assert len(results.read_result(path))  # a good file again


def test_a_damaged_per_item_file_or_mteb_json_is_set_aside_and_its_task_recomputed(made):
    out, files = made
    items = results.items_path(files["STSBenchmark"].parent, "STSBenchmark")
    items.write_bytes(b"")
    (mteb_json,) = [p for p in results.mteb_files(out, files["STSBenchmark"].parent.name.rsplit("-", 1)[1],
                                                   "STSBGenreClassification.proxy")
                    if p.name == "STSBGenreClassification.proxy.json"]
    mteb_json.write_text('{"task_name": "STSBGenre')
    again = run(cfg(out, TWO))
    assert set(again["task_name"]) == {"STSBenchmark", "STSBGenreClassification.proxy"}
    assert items.with_name(items.name + ".corrupt").exists()
    assert mteb_json.with_name(mteb_json.name + ".corrupt").exists()
    json.loads(mteb_json.read_text())


def test_a_second_damage_is_kept_beside_the_first(made):
    out, files = made
    path = files["STSBenchmark"]
    for _ in range(2):
        path.write_bytes(b"")
        run(cfg(out, TWO))
    assert path.with_name(path.name + ".corrupt").exists() and path.with_name(path.name + ".corrupt.2").exists()


def test_reports_skip_a_damaged_file_with_a_warning_naming_it_and_render_the_rest(made, caplog):
    out, files = made
    files["STSBenchmark"].write_bytes(b"garbage")
    with caplog.at_level(logging.WARNING):
        frame = results.load_results(out)
        runs = results.finished(out)
        md = tables.render(out).read_text()
    assert set(frame["task_name"]) == set(runs["task_name"]) == {"STSBGenreClassification.proxy"}
    assert "Classification" in md
    assert caplog.text.count(str(files["STSBenchmark"])) >= 1
    assert files["STSBenchmark"].read_bytes() == b"garbage"  # readers never move or delete anything


WAITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from kvembed.store import results
    with results.task_lock(Path(sys.argv[1]), "STSBenchmark"):
        print("locked", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def test_a_lock_held_by_a_job_killed_with_sigkill_never_blocks_the_next(tmp_path):
    folder = tmp_path / "job"
    holder = subprocess.Popen([sys.executable, "-c", WAITER, str(folder), "600"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    start = time.perf_counter()
    with results.task_lock(folder, "STSBenchmark"):
        pass
    assert time.perf_counter() - start < 5


def test_a_held_lock_makes_the_next_job_wait_for_it(tmp_path):
    folder = tmp_path / "job"
    holder = subprocess.Popen([sys.executable, "-c", WAITER, str(folder), "2"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    start = time.perf_counter()
    with results.task_lock(folder, "STSBenchmark"):
        waited = time.perf_counter() - start
    holder.wait()
    assert waited > 1.0


def _job(out: str, queue) -> None:
    queue.put(len(run(cfg(Path(out), TWO))))


def test_two_identical_jobs_started_together_compute_each_task_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    jobs = [ctx.Process(target=_job, args=(str(tmp_path), queue)) for _ in range(2)]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(300)
    rows = sorted(queue.get(timeout=5) for _ in jobs)
    made = results.load_results(tmp_path)
    assert rows[0] + rows[1] == len(made)  # every row was made once, by one job or the other
    assert made.groupby("task_name")["run_id"].nunique().eq(1).all()


def test_a_kill_while_a_lock_is_held_loses_nothing_and_the_rerun_finishes(tmp_path):
    cli = [sys.executable, "-m", "kvembed.run", *BASE, f"results_dir={tmp_path}", TWO]
    proc = subprocess.Popen(cli, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    locks = tmp_path / "runs"
    deadline = time.time() + 240
    while time.time() < deadline and not list(locks.rglob("*.lock")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # inside the first task's lock
    proc.wait()
    start = time.perf_counter()
    run(cfg(tmp_path, TWO))
    assert time.perf_counter() - start < 120
    assert {f.name for f in results.task_files(tmp_path / "runs")} == {"STSBenchmark.parquet",
                                                                      "STSBGenreClassification.proxy.parquet"}
