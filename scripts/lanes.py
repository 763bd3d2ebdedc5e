"""Run independent lanes of single-threaded drivers, one per core (``make rehearse``, ``make regenerate``)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

Command = list[str]


def run_pool(lanes: list[list[Command]], env: dict[str, str], workers: int, cwd: Path,
             on_done: Callable[[Command, float], None] | None = None) -> list[str]:
    """Run ``lanes`` ``workers`` at a time (a lane's drivers one after another), starting them in the order
    given (costliest first, so the cores finish together). ``on_done(cmd, seconds)`` is called for each driver
    that succeeds. Returns the failed commands: the other lanes go on, so a failure loses no finished work."""
    waiting, running, failed = [list(lane) for lane in lanes if lane], [], []
    while waiting or running:
        while waiting and len(running) < workers:
            lane = waiting.pop(0)
            cmd = lane.pop(0)
            print("+", " ".join(cmd), "&", flush=True)
            running.append((cmd, subprocess.Popen(cmd, cwd=cwd, env=env), lane, time.monotonic()))
            time.sleep(1.1)  # Hydra names a sweep's folder by the second it starts: two drivers, two folders
        time.sleep(1)
        for entry in [r for r in running if r[1].poll() is not None]:
            running.remove(entry)
            cmd, proc, lane, started = entry
            if proc.returncode != 0:
                failed.append(" ".join(cmd))
                continue  # the lane's later drivers may need this one's rows
            if on_done is not None:
                on_done(cmd, time.monotonic() - started)
            if lane:
                waiting.insert(0, lane)  # the lane's next driver takes the freed core
    return failed
