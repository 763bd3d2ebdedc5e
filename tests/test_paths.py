"""Files and keys: atomic writes honour the umask, stable hashes are stable."""

from __future__ import annotations

import os
import stat

from kvembed.paths import atomic_write_bytes, stable_hash


def test_atomic_writes_are_readable_by_the_group_under_a_shared_umask(tmp_path):
    old = os.umask(0o002)  # a cluster group sharing a results folder
    try:
        target = tmp_path / "r" / "task.parquet"
        atomic_write_bytes(target, b"data")
    finally:
        os.umask(old)
    assert target.read_bytes() == b"data"
    assert stat.S_IMODE(target.stat().st_mode) == 0o664
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_stable_hash_ignores_key_order_and_has_the_asked_length():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert len(stable_hash("x", 10)) == 10 and stable_hash("x") != stable_hash("y")
