"""Download the configured backbones and benchmark datasets into the local caches, so that later runs
work with HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 (air-gapped clusters). Dataset revisions are the ones
mteb pins per task; backbone revisions are resolved now and printed; ``--pin`` writes them to the revision
lock file (kvembed/pins.py: beside the hub cache, never into the source tree), so that every later run, the
Python API's included, loads exactly that commit. Pins are written once everything was fetched: a failure
leaves no partial pin, and ends in one line saying what could not be reached, why, and what to do.

    python scripts/prefetch.py --backbones qwen3-4b mistral-7b llama-3.1-8b --benchmarks mteb_table1 sts
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from kvembed.harness.job import CONFIG_DIR


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


def _why(err: BaseException) -> tuple[str, str]:
    """(what went wrong, what to do) for a failed download, in words instead of a traceback chain."""
    name = type(err).__name__
    if name == "GatedRepoError" or "gated" in str(err).lower() or "401" in str(err):
        return ("it is gated: its licence must be accepted on the hub and a token given",
                "accept the licence on the model's hub page, then `huggingface-cli login` (or set HF_TOKEN) and rerun")
    if name in ("RepositoryNotFoundError", "RevisionNotFoundError"):
        return "the hub has no such repository or revision", "check the hub id and revision in kvembed/backbones.py"
    if name in ("OfflineModeIsEnabled", "LocalEntryNotFoundError") or "offline" in str(err).lower():
        return ("it is not in the local cache and the hub is switched off (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE) "
                "or unreachable", "run `make prefetch` on a machine with network and copy the caches, or unset "
                "HF_HUB_OFFLINE and HF_DATASETS_OFFLINE")
    if isinstance(err, (OSError, ConnectionError)) or "connect" in name.lower() or "timeout" in name.lower():
        return "the hub cannot be reached from this machine", "run it where the network reaches huggingface.co"
    return f"{name}: {str(err).splitlines()[0] if str(err) else ''}", "see the message above"


def fail(what: str, err: BaseException) -> SystemExit:
    why, todo = _why(err)
    return SystemExit(f"prefetch: could not fetch {what}: {why}. To do: {todo}. Nothing was pinned.")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backbones", nargs="*", default=["qwen3-4b", "mistral-7b", "llama-3.1-8b"])
    ap.add_argument("--benchmarks", nargs="*", default=["mteb_table1"])
    ap.add_argument("--pin", action="store_true",
                    help="write the resolved backbone revisions to the revision lock file (kvembed/pins.py)")
    args = ap.parse_args(argv)
    from huggingface_hub import snapshot_download

    from kvembed import pins
    from kvembed.backbones import BACKBONES
    from kvembed.eval.tasks import get_task, load_task_data

    unknown = [n for n in args.backbones if n not in BACKBONES or not BACKBONES[n].hub_id]
    if unknown:
        raise SystemExit(f"prefetch: {unknown} are not hub backbones; choose from "
                         f"{sorted(n for n, b in BACKBONES.items() if b.hub_id)}")
    resolved = {}
    for name in args.backbones:
        spec = BACKBONES[name]
        try:
            path = snapshot_download(spec.hub_id,  # the newest revision: `--pin` records it
                                     allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"])
        except Exception as err:  # noqa: BLE001 - every failure becomes one line that says what to do
            raise fail(f"backbone {name} ({spec.hub_id})", err) from None
        resolved[name] = Path(path).name  # the snapshot folder is named by the commit it resolved to
        print(f"{name}: {spec.hub_id} -> {path} (revision {resolved[name]})")
    for bench in args.benchmarks:
        for task_name in benchmark_tasks(bench):
            task = get_task(task_name)
            data = task.metadata.dataset
            try:
                load_task_data(task)
            except Exception as err:  # noqa: BLE001
                raise fail(f"dataset {data.get('path')} of task {task_name}", err.__cause__ or err) from None
            print(f"{bench}: {task_name} cached ({data.get('path')}@{data.get('revision')})")
    if args.pin and resolved:
        print(f"prefetch: pinned {len(resolved)} backbone revisions in {pins.write_pins(resolved)}")


if __name__ == "__main__":
    main()
