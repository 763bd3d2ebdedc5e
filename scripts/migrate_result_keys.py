"""One-off migration (run once, from a clean commit): result folders keyed by the new result key.

The runner's result key now holds the method overrides in their canonical form (``Overrides.canonical``)
and always states the split and whether a task read original files, so the compatibility special cases that
kept old keys stable are gone; every row also records the settings the user set (``overrides`` column), which
reports select runs by. ``result_keys_map.json`` (made with the code before the change, by expanding every
experiment the study and the drivers run) names each existing folder's job as Hydra overrides. This script
recomposes each job with the current code, moves its files to the new folder, sets ``config_hash`` and adds
``overrides`` to its rows, renames mteb's result folder of the job, and checks that no score changes.

    KVEMBED_DATA=../shared/data python scripts/migrate_result_keys.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from kvembed.harness import results
from kvembed.harness.config import validate
from kvembed.harness.jobs import compose_config
from kvembed.harness.run import overrides_column, result_folder

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    mapping = json.loads((ROOT / "scripts" / "result_keys_map.json").read_text())
    moves = {}
    for old_rel, entry in sorted(mapping.items()):
        old = ROOT / old_rel
        run = validate(compose_config([*entry["overrides"], f"results_dir={ROOT / 'results'}"]))
        key, folder = result_folder(run)
        assert old.name.rsplit("-", 1)[1] == entry["old_key"], old
        moves[old] = (key, folder, run)
    new_folders = [f for _, f, _ in moves.values()]
    assert len(set(new_folders)) == len(new_folders), "two old folders map to one new configuration"
    for old, (key, folder, run) in moves.items():
        old_key = old.name.rsplit("-", 1)[1]
        if not old.exists():
            assert folder.exists(), f"{old} is gone and {folder} was never written"
            continue
        for path in sorted(old.glob("*.parquet")):
            target = folder / path.name
            if path.name.endswith(results.ITEMS_SUFFIX):
                results.write_table(pd.read_parquet(path), target)
                continue
            df = pd.read_parquet(path)
            assert (df["config_hash"] == old_key).all(), path
            new = df.assign(config_hash=key)
            new.insert(new.columns.get_loc("config_hash") + 1, "overrides", overrides_column(run))
            pd.testing.assert_series_equal(new["value"], df["value"])
            results.write_table(new, target)
        if folder != old:
            shutil.rmtree(old)
        for mteb_dir in (ROOT / "results" / "mteb" / "results").glob(f"*/*/experiments/kvembed_config_{old_key}"):
            renamed = mteb_dir.with_name(f"kvembed_config_{key}")
            for f in mteb_dir.glob("*.json"):
                f.write_text(f.read_text().replace(f'"kvembed_config": "{old_key}"', f'"kvembed_config": "{key}"'))
            mteb_dir.rename(renamed)
        print(f"{old.relative_to(ROOT)} -> {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
