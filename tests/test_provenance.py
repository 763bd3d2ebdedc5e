"""Code versions: a change to the code that makes a number changes the version that labels it."""

from __future__ import annotations

import shutil
import subprocess

from kvembed.provenance import PACKAGE, code_version, git_commit, source_files


def test_a_changed_line_changes_exactly_the_versions_it_affects(tmp_path):
    root = tmp_path / "kvembed"
    shutil.copytree(PACKAGE, root, ignore=shutil.ignore_patterns("__pycache__"))
    before = {s: code_version(s, root) for s in ("embeddings", "scores")}
    assert before == {s: code_version(s) for s in before}  # contents, not paths, are hashed

    (root / "report" / "tables.py").write_text((root / "report" / "tables.py").read_text() + "\n# a note\n")
    assert {s: code_version(s, root) for s in before} == before  # the report makes no number

    (root / "eval" / "sts.py").write_text((root / "eval" / "sts.py").read_text() + "\n# scores\n")
    assert code_version("embeddings", root) == before["embeddings"]
    assert code_version("scores", root) != before["scores"]

    pooling = root / "pooling.py"
    pooling.write_text(pooling.read_text().replace("clamp_min(1.0)", "clamp_min(2.0)"))
    assert code_version("embeddings", root) != before["embeddings"]


def test_the_embedding_scope_is_the_core_library():
    names = {p.relative_to(PACKAGE).as_posix() for p in source_files("embeddings")}
    assert {"attention.py", "forward.py", "prompts.py", "methods/base.py"} <= names
    assert not any(n.startswith(("eval/", "harness/", "report/")) for n in names)
    assert "cli.py" not in names and "run.py" not in names


def test_a_re_rendered_result_file_does_not_make_the_tree_dirty_but_a_code_change_does(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "kvembed").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "kvembed" / "pooling.py").write_text("x = 1\n")
    (tmp_path / "results" / "table1.md").write_text("| a |\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    package = tmp_path / "kvembed"
    (tmp_path / "results" / "table1.md").write_text("| b |\n")  # a driver re-rendered a report
    assert not git_commit(package).endswith("-dirty")
    (package / "pooling.py").write_text("x = 2\n")
    git_commit.cache_clear()
    assert git_commit(package).endswith("-dirty")
    git_commit.cache_clear()
