"""``make regenerate`` (``scripts/regenerate.py``): every committed result from one clean commit, in lanes of
single-threaded drivers, resumable, and installed only after each value is compared with the committed one."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import lanes  # noqa: E402
import regenerate  # noqa: E402

sys.path.pop(0)


def test_a_lane_runs_its_drivers_in_order_and_a_failed_driver_stops_only_its_own_lane(tmp_path):
    log = tmp_path / "log"
    say = [sys.executable, "-c", f"import sys; open({str(log)!r}, 'a').write(sys.argv[1] + '\\n')"]
    fail = [sys.executable, "-c", "raise SystemExit(3)"]
    done = []
    failed = lanes.run_pool([[[*say, "a1"], [*say, "a2"]], [fail, [*say, "never"]], [[*say, "c"]]], {}, 2,
                            tmp_path, on_done=lambda cmd, s: done.append(cmd[-1]))
    lines = log.read_text().split()
    assert failed == [" ".join(fail)]
    assert sorted(lines) == ["a1", "a2", "c"] and lines.index("a1") < lines.index("a2")
    assert sorted(done) == ["a1", "a2", "c"]


def test_every_driver_has_its_own_name_and_writes_into_the_regeneration_folder(tmp_path):
    drivers = [d for lane in regenerate.lanes(tmp_path) for d in lane] + [regenerate.bench(tmp_path)]
    assert len({d.name for d in drivers}) == len(drivers)
    assert all(str(tmp_path) in " ".join(d.argv) for d in drivers)
    assert all(Path(regenerate.ROOT / d.argv[1]).exists() for d in drivers)


# reports re-rendered from the rows by --install; every other committed file beside the rows is a driver's output
RENDERED = {"table1.md", "table1.csv", "ablation.md", "ablation.csv", "locov1.md"}


def test_every_committed_result_file_beside_the_rows_is_written_by_a_driver(tmp_path):
    drivers = [d for lane in regenerate.lanes(tmp_path) for d in lane] + [regenerate.bench(tmp_path)]
    written = {Path(arg).name for d in drivers for arg in d.argv if arg.startswith(str(tmp_path))}
    committed = {p.name for p in (regenerate.ROOT / "results").iterdir() if p.is_file()} - RENDERED
    assert committed, "no committed result files found"
    # a driver writing X.md writes its rows beside it as X.parquet
    assert {n for n in committed if Path(n).with_suffix(".md").name not in written} == set()


def test_the_offline_profile_runs_first_one_driver_per_method(tmp_path):
    first = [lane[0] for lane in regenerate.lanes(tmp_path)][: len(regenerate.TABLE1_METHODS)]
    assert [d.argv[-1] for d in first] == [f"method={m}" for m in regenerate.TABLE1_METHODS]
    assert all("benchmark=offline" not in d.argv for d in first)


def test_screen_runs_before_the_stages_that_read_its_dev_choices(tmp_path):
    ablation = next(lane for lane in regenerate.lanes(tmp_path) if lane[0].name == "ablation screen")
    assert [d.argv[-1] for d in ablation] == ["screen", "confirm", "real"]


def _rows(path: Path, values: list[float]) -> Path:
    pd.DataFrame({"task_name": ["A", "B", "C"], "subset": ["default"] * 3, "split": ["test"] * 3,
                  "metric": ["spearman"] * 3, "value": values, "is_main": [True] * 3}).to_parquet(path)
    return path


def test_install_sorts_each_replaced_value_into_identical_float_noise_or_moved(tmp_path):
    new = _rows(tmp_path / "new.parquet", [0.5, 0.25, float("nan")])
    seen = regenerate.Comparison()
    seen.add(new, _rows(tmp_path / "same.parquet", [0.5, 0.25, float("nan")]))
    assert (seen.exact, seen.close, seen.moved) == (3, 0, [])
    seen = regenerate.Comparison()
    seen.add(new, _rows(tmp_path / "other.parquet", [0.5 + 3e-8, 0.2503, float("nan")]))
    assert (seen.exact, seen.close) == (1, 1) and len(seen.moved) == 1
    assert "B test spearman (main): 0.2503 -> 0.25" in seen.moved[0]
    seen.add(new, tmp_path / "absent.parquet")  # nothing committed to compare with
    assert (seen.exact, seen.close, len(seen.moved)) == (1, 1, 1)


def test_a_regeneration_refuses_a_dirty_tree(monkeypatch):
    class Done:
        stdout = " M kvembed/encoder.py\n"

    monkeypatch.setattr(regenerate.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(SystemExit, match="commit first"):
        regenerate.commit()
