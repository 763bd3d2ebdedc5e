"""Download the configured backbones and benchmark datasets into the local caches, so that later runs
work with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 (air-gapped clusters). Dataset revisions are the ones
mteb pins per task; backbone revisions are resolved now and printed, to pin in configs/backbone/*.yaml.

    python scripts/prefetch.py --backbones qwen3-4b mistral-7b llama-3.1-8b --benchmarks mteb_table1 sts
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbones", nargs="*", default=["qwen3-4b", "mistral-7b", "llama-3.1-8b"])
    ap.add_argument("--benchmarks", nargs="*", default=["mteb_table1"])
    args = ap.parse_args()
    from huggingface_hub import snapshot_download

    from kvembed.backbones import BACKBONES
    from kvembed.eval.tasks import benchmark_task_names, get_task, load_task_data

    for name in args.backbones:
        spec = BACKBONES[name]
        path = snapshot_download(spec.hub_id, revision=spec.revision,
                                 allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"])
        print(f"{name}: {spec.hub_id} -> {path} (revision {Path(path).name})")
    configs = Path(__file__).resolve().parent.parent / "configs" / "benchmark"
    for bench in args.benchmarks:
        cfg = yaml.safe_load((configs / f"{bench}.yaml").read_text())
        names = list(cfg.get("tasks") or [])
        if cfg.get("mteb_benchmark"):
            names += benchmark_task_names(cfg["mteb_benchmark"])
        for task_name in names:
            task = get_task(task_name)
            load_task_data(task)
            data = task.metadata.dataset
            print(f"{bench}: {task_name} cached ({data.get('path')}@{data.get('revision')})")


if __name__ == "__main__":
    main()
