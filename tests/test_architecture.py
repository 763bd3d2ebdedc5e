"""The folder layout is the architecture: core ← eval ← store ← harness ← report, and no arrow points back.

The core library (``kvembed/*.py``, ``kvembed/methods``, ``kvembed/data``) imports nothing of
``kvembed.eval``, ``kvembed.store``, ``kvembed.harness`` or ``kvembed.report``; evaluation imports only the
core; the result store the core and evaluation; the harness those three; the report anything, yet it reads
results without the harness (below). The two entry points ``kvembed/run.py`` and
``kvembed/cli.py`` sit above all layers (nothing imports them)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "kvembed"
LAYERS = ["core", "eval", "store", "harness", "report"]
ENTRY_POINTS = {"kvembed.run", "kvembed.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS[1:] else "core"


def _package(path: Path) -> str:
    """The package a file's relative imports start from ('' outside kvembed, e.g. a notebook)."""
    if not path.is_relative_to(ROOT):
        return ""
    return module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import statement of ``path`` at any depth of its code, as (absolute module, imported names):
    ``import a.b`` → ("a.b", []), ``from .x import y`` → ("kvembed.<package>.x", ["y"])."""
    package, found = _package(path), []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            found.append((".".join(base + ([node.module] if node.module else [])), [a.name for a in node.names]))
    return found


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the kvembed modules that ``path`` imports (relative imports resolved)."""
    found = set()
    for mod, names in imports(path):
        if mod.startswith("kvembed"):
            found |= {mod} | {f"{mod}.{name}" for name in names}  # `from . import results`
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


def _module_edges(path: Path, names: set[str]) -> set[str]:
    """The modules ``path`` imports: ``from pkg import sub`` is an edge to ``pkg.sub`` when that is a module,
    else to ``pkg`` (whose ``__init__`` runs to supply the name)."""
    edges = set()
    for mod, imported in imports(path):
        edges |= {f"{mod}.{n}" if f"{mod}.{n}" in names else mod for n in imported} if imported else {mod}
    return {e for e in edges if e in names and e != module_name(path)}


def test_no_import_cycle_even_through_an_import_inside_a_function():
    """An import inside a function may only make an import cheaper, never hide a cycle between modules."""
    names = {module_name(p) for p in MODULES}
    graph = {module_name(p): _module_edges(p, names) for p in MODULES}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target):] + [target] if target in path else [module, target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def _source(module: str) -> Path | None:
    relative = Path(*module.split("."))
    for candidate in (ROOT.parent / relative.with_suffix(".py"), ROOT.parent / relative / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


REPORTING = [*sorted((ROOT / "report").glob("*.py")), *sorted((ROOT.parent / "notebooks").glob("*.py"))]


@pytest.mark.parametrize("path", REPORTING, ids=lambda p: p.name)
def test_reports_and_notebooks_read_columns_without_the_experiment_stack(path):
    """Reading results needs their columns only: not the harness, Hydra, W&B or submitit (``kvembed[report]``
    installs none of them)."""
    seen, todo = set(), [path]
    while todo:
        names = {name for mod, imported in imports(todo.pop()) for name in (mod, *(f"{mod}.{n}" for n in imported))}
        for name in names:
            parts = name.split(".")
            # a kvembed module runs its packages' __init__ files too
            for module in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if module not in seen:
                    seen.add(module)
                    source = _source(module) if module.startswith("kvembed") else None
                    if source is not None:
                        todo.append(source)
    stack = {m for m in seen if m.split(".")[0] in ("hydra", "omegaconf", "wandb", "submitit", "hydra_plugins")}
    assert not stack, f"{path.name} reaches the experiment stack: {sorted(stack)}"
    assert not {m for m in seen if m.startswith("kvembed.harness")}, f"{path.name} reaches the harness"


def test_the_report_extra_installs_no_experiment_stack():
    """``pip install kvembed[report]`` is what reading results needs (the closure above stays clear of the
    harness); the experiment stack is the harness extra's."""
    import tomllib

    extras = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    named = {req.split("[")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower() for req in extras["report"]}
    assert not named & {"hydra-core", "omegaconf", "wandb", "hydra-submitit-launcher", "submitit", "kvembed"}, named
    assert {"hydra-core", "wandb", "hydra-submitit-launcher"} <= {
        req.split(">")[0].split("=")[0].strip().lower() for req in extras["harness"]}


# Where an import inside a function is the point: the fingerprint probe keeps to the API of every recorded
# commit (its docstring), the CLI loads only its command's extra, ``import kvembed`` stays light (PEP 562),
# and W&B is imported only when a run logs to it. Everywhere else dependencies show at the module top.
LOCAL_IMPORTS_ALLOWED = {"kvembed.store.fingerprint", "kvembed.cli", "kvembed", "kvembed.harness.tracking"}


def test_imports_sit_at_the_module_top_except_where_a_local_one_is_the_point():
    hidden = {}
    for path in sorted(ROOT.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(node)):
                    hidden.setdefault(module_name(path), []).append(node.name)
    assert set(hidden) <= LOCAL_IMPORTS_ALLOWED, {m: f for m, f in hidden.items() if m not in LOCAL_IMPORTS_ALLOWED}
