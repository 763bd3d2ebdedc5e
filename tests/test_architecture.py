"""The folder layout is the architecture: core ← eval ← harness ← report, and no arrow points back.

The core library (``kvembed/*.py``, ``kvembed/methods``, ``kvembed/data``) imports nothing of
``kvembed.eval``, ``kvembed.harness`` or ``kvembed.report``; evaluation imports only the core; the
harness the core and evaluation; the report anything. The two entry points ``kvembed/run.py`` and
``kvembed/cli.py`` sit above all layers (nothing imports them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "kvembed"
LAYERS = ["core", "eval", "harness", "report"]
ENTRY_POINTS = {"kvembed.run", "kvembed.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS[1:] else "core"


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the kvembed modules that ``path`` imports (relative imports resolved)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kvembed")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("kvembed"):
                found.add(mod)
                found |= {f"{mod}.{a.name}" for a in node.names}  # `from . import results`
    return found


MODULES = sorted(p for p in ROOT.rglob("*.py") if module_name(p) not in ENTRY_POINTS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_module_imports_a_layer_above_its_own(path):
    mine = LAYERS.index(layer_of(module_name(path)))
    for target in imported_modules(path):
        if target in ENTRY_POINTS:
            pytest.fail(f"{module_name(path)} imports the entry point {target}")
        assert LAYERS.index(layer_of(target)) <= mine, f"{module_name(path)} imports {target}, a layer above it"


def test_every_layer_exists_and_the_core_is_not_empty():
    layers = {layer_of(module_name(p)) for p in MODULES}
    assert layers == set(LAYERS)
