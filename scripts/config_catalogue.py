"""The catalogue of config groups and their choices, rendered from ``kvembed/configs/`` (each YAML's first
comment line) and, for the groups Hydra takes from the registries, from each backbone's ``notes`` and each
method's ``summary``, into docs/configs.md, so the page cannot drift from the files.

    python scripts/config_catalogue.py            # print the catalogue
    python scripts/config_catalogue.py --write    # rewrite docs/configs.md's block between its markers
    python scripts/config_catalogue.py --check    # exit 1 if that block differs (the tests run this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kvembed.backbones import BACKBONES
from kvembed.methods import METHODS

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "kvembed" / "configs"
PAGE = ROOT / "docs" / "configs.md"
BEGIN, END = "<!-- config-catalogue:begin (scripts/config_catalogue.py --write) -->", "<!-- config-catalogue:end -->"
GROUPS = ("experiment", "backbone", "method", "layers", "pooling", "benchmark", "logger", "launcher")


def describe(path: Path) -> str:
    """The first sentence of the YAML's leading comment (Hydra's ``@package`` directive skipped), or of the
    first inline comment when the file has no leading one."""
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if text.startswith("#"):
            if "@package" not in text:
                words.append(text.lstrip("# "))
            continue
        if not words and "#" in text:
            words.append(text.split("#", 1)[1].strip())
        break
    paragraph = " ".join(words)
    cut = paragraph.find(". ")
    return paragraph if cut < 0 else paragraph[:cut + 1]


def choices(group: str) -> dict[str, str]:
    """Each option of ``group`` and its description."""
    if group == "backbone":
        return {name: spec.notes for name, spec in sorted(BACKBONES.items())}
    if group == "method":
        return {name: spec.summary for name, spec in sorted(METHODS.items())}
    return {p.stem: describe(p) for p in sorted((CONFIGS / group).glob("*.yaml"))}


def render() -> str:
    missing = sorted(p.name for p in CONFIGS.iterdir() if p.is_dir() and p.name not in GROUPS)
    if missing:
        raise ValueError(f"config group(s) {missing} are not in the catalogue's GROUPS")
    parts = []
    for group in GROUPS:
        rows = [f"| `{group}={name}` | {text.replace('|', chr(92) + '|')} |" for name, text in choices(group).items()]
        parts.append(f"### `{group}/`\n\n| choice | what |\n|---|---|\n" + "\n".join(rows))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    block = render()
    if not (args.write or args.check):
        print(block)
        return
    text = PAGE.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{PAGE.name} has no {BEGIN!r} … {END!r} block")
    head, rest = text.split(BEGIN, 1)
    wanted = f"{head}{BEGIN}\n{block}\n{END}{rest.split(END, 1)[1]}"
    if args.check:
        if wanted != text:
            print(f"{PAGE.name}: the config catalogue is stale; run scripts/config_catalogue.py --write")
            sys.exit(1)
        return
    PAGE.write_text(wanted, encoding="utf-8")


if __name__ == "__main__":
    main()
