"""Download the configured backbones and benchmark datasets into the local caches, so that later runs
work with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 (air-gapped clusters). Dataset revisions are the ones
mteb pins per task; backbone revisions are resolved now and printed; ``--pin`` writes each into its
``kvembed/configs/backbone/<name>.yaml`` so that every later run loads exactly that commit.

    python scripts/prefetch.py --backbones qwen3-4b mistral-7b llama-3.1-8b --benchmarks mteb_table1 sts
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from kvembed.harness.run import CONFIG_DIR


def benchmark_tasks(bench: str) -> list[str]:
    """The task names of a benchmark config (``kvembed/configs/benchmark/<bench>.yaml``), a clear error if unknown."""
    path = Path(CONFIG_DIR) / "benchmark" / f"{bench}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise SystemExit(f"prefetch: no benchmark config {bench!r} in {path.parent}; known: {known}")
    from kvembed.eval.tasks import benchmark_task_names

    cfg = yaml.safe_load(path.read_text())
    names = list(cfg.get("tasks") or [])
    if cfg.get("mteb_benchmark"):
        names += [n for n in benchmark_task_names(cfg["mteb_benchmark"]) if n not in names]
    return names


def pin(name: str, revision: str, config_dir: str | Path | None = None) -> Path:
    """Write ``revision`` into the backbone's config (the one line ``revision: ...``) in ``config_dir``
    (default: the package's configs, the ones every run reads)."""
    path = Path(config_dir or CONFIG_DIR) / "backbone" / f"{name}.yaml"
    text = path.read_text()
    new, n = re.subn(r"(?m)^revision:.*$", f"revision: {revision}", text)
    if n != 1:
        raise SystemExit(f"prefetch: {path} has no single 'revision:' line to pin")
    path.write_text(new)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbones", nargs="*", default=["qwen3-4b", "mistral-7b", "llama-3.1-8b"])
    ap.add_argument("--benchmarks", nargs="*", default=["mteb_table1"])
    ap.add_argument("--pin", action="store_true", help="write each resolved backbone revision into its config")
    ap.add_argument("--config-dir", default=None,
                    help="--pin: the config folder whose backbone/*.yaml to pin (default: the package's)")
    args = ap.parse_args(argv)
    from huggingface_hub import snapshot_download

    from kvembed.backbones import BACKBONES
    from kvembed.eval.tasks import get_task, load_task_data

    for name in args.backbones:
        spec = BACKBONES[name]
        path = snapshot_download(spec.hub_id, revision=spec.revision,
                                 allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"])
        revision = Path(path).name  # the snapshot folder is named by the commit it resolved to
        where = f"; pinned in {pin(name, revision, args.config_dir)}" if args.pin else ""
        print(f"{name}: {spec.hub_id} -> {path} (revision {revision}{where})")
    for bench in args.benchmarks:
        for task_name in benchmark_tasks(bench):
            task = get_task(task_name)
            load_task_data(task)
            data = task.metadata.dataset
            print(f"{bench}: {task_name} cached ({data.get('path')}@{data.get('revision')})")


if __name__ == "__main__":
    main()
