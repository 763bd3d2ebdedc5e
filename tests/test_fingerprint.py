"""A result's identity is what the code computes: the fingerprint (kvembed.store.fingerprint).

Edits that cannot move a number keep every fingerprint; a one-token change in what a method or the evaluation
computes changes the fingerprints of exactly what it affects. Each mutation is applied to a copy of the
package, and that copy's fingerprints are computed in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kvembed.provenance import PACKAGE, code_version
from kvembed.store import fingerprint

METHODS = ("kvembed", "kvembed_no_reroute", "mean", "last", "prompteol", "pretcot", "ke", "echo",
           "token_prepending", "cp", "kvembed_two_pass", "kvembed_bidirectional", "kvembed_no_prompt")
MASKED = ("kvembed", {"routing_impl": "masked"})
RANGE = ("kvembed", {"layers": {"strategy": "range", "start": 12.0}})
TYPES = tuple(fingerprint.EVAL_TASKS)

WORKER = """
import json, sys
import kvembed
from kvembed.store import fingerprint as f
request = json.loads(sys.argv[1])
print(json.dumps({"package": kvembed.__file__, "embeddings": [f.embeddings_fingerprint(m, o, request["models"], True)
                                 for m, o in request["configs"]],
                  "evaluation": [f.evaluation_fingerprint(*t) for t in request["types"]]}))
"""


def _config(c) -> tuple[str, dict]:
    return (c, {}) if isinstance(c, str) else c


def _task(t) -> tuple[str, bool]:
    """A task type, with task instructions off unless given as (type, True)."""
    return (t, False) if isinstance(t, str) else tuple(t)


@pytest.fixture(scope="module")
def models() -> dict[str, str]:
    return fingerprint.probe_models()


@pytest.fixture(scope="module")
def today(models):
    """This code's fingerprints, computed on demand and kept for the module."""
    seen: dict[str, str] = {}

    def get(kind: str, what) -> str:
        key = json.dumps([kind, what])
        if key not in seen:
            seen[key] = (fingerprint.embeddings_fingerprint(*_config(what), models, True) if kind == "embeddings"
                         else fingerprint.evaluation_fingerprint(*_task(what)))
        return seen[key]

    return get


def copy_package(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    shutil.copytree(PACKAGE, root / "kvembed", ignore=shutil.ignore_patterns("__pycache__", "configs"))
    return root


def fingerprints_of(root: Path, models, configs=(), types=()) -> dict[str, list[str]]:
    """The fingerprints that the package copy under ``root`` computes, in a fresh interpreter."""
    request = json.dumps({"models": models, "configs": [_config(c) for c in configs],
                          "types": [_task(t) for t in types]})
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", WORKER, request], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["package"].startswith(str(root)), "the copy, not the installed package, must be measured"
    return got


def mutate(root: Path, relative: str, old: str, new: str) -> None:
    path = root / "kvembed" / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{relative}: the mutated text {old!r} must occur exactly once"
    path.write_text(text.replace(old, new))


def test_fingerprints_are_stable_and_distinguish_methods(today):
    prints = {m: today("embeddings", m) for m in ("kvembed", "prompteol", "echo")}
    assert len(set(prints.values())) == 3
    assert fingerprint.embeddings_fingerprint("kvembed", {}) == prints["kvembed"]  # computed again: the same
    assert len({today("evaluation", t) for t in ("STS", "Retrieval", "Classification")}) == 3


def test_a_layer_index_is_taken_modulo_the_probe_models_depth():
    assert fingerprint.probe_overrides("kvembed", {"layers": {"strategy": "range", "start": 12.0}}, 6)["layers"] == \
        {"strategy": "range", "start": 0, "stop": None}
    explicit = fingerprint.probe_overrides("kvembed", {"layers": {"strategy": "explicit", "layers": [7, 13]}}, 6)
    assert explicit["layers"]["layers"] == [1]
    auto = fingerprint.probe_overrides("kvembed", {}, 6)["layers"]
    assert auto["strategy"] == "auto" and auto["n_samples"] == fingerprint.PROBE_ID_SAMPLES
    assert fingerprint.probe_overrides("prompteol", {}, 6) == {}


def _add_comments_docstrings_and_renames(root: Path) -> None:
    for path in (root / "kvembed").rglob("*.py"):
        text = path.read_text()
        text = "# a comment added to every module of the package\n" + text
        text = re.sub(r"^(\s*)(def |class )", r"\1# and one before every definition\n\1\2", text, flags=re.M)
        path.write_text(text)
    mutate(root, "encoder.py", "Encode texts with a frozen decoder and one embedding method.",
           "Encode texts with a frozen decoder-only model and one embedding method (a docstring edit).")
    for path in (root / "kvembed").rglob("*.py"):  # renames across modules
        text = path.read_text()
        text = text.replace("_masked_mean", "_average_over_mask").replace("reroute_flat", "reroute_without_mask")
        path.write_text(text)


@pytest.mark.integration
def test_comments_docstrings_and_renames_keep_every_fingerprint(tmp_path, models, today):
    root = copy_package(tmp_path)
    _add_comments_docstrings_and_renames(root)
    assert code_version("scores", root / "kvembed") != code_version("scores")  # a source-text hash goes stale
    configs = (*METHODS, MASKED, RANGE)
    got = fingerprints_of(root, models, configs, TYPES)
    assert got["embeddings"] == [today("embeddings", c) for c in configs]
    assert got["evaluation"] == [today("evaluation", t) for t in TYPES]


# (file, text, mutated text, what it changes, what it leaves alone): configurations, or ("eval", task type)
MUTATIONS = {
    "mean + last pooling": ("pooling.py", "out = (last + _masked_mean(hidden, real)) / 2",
                            "out = (last - _masked_mean(hidden, real)) / 2", ["kvembed"], ["prompteol", "mean"]),
    "flat re-routing bias": ("attention.py", "keys[:, :, 0, D] = bias / scaling", "keys[:, :, 0, D] = bias * scaling",
                             ["kvembed"], ["kvembed_no_reroute", "prompteol", MASKED]),
    "masked re-routing bias": ("attention.py", "float_mask[..., 0] = bias", "float_mask[..., 0] = -bias",
                               [MASKED], ["kvembed"]),
    "Contrastive Prompting steering": ("forward.py", "(x[rows, batch.last_index] - negative)",
                                       "(x[rows, batch.last_index] + negative)", ["cp"], ["token_prepending", "ke"]),
    "Token Prepending hook": ("forward.py", "hidden[rows, batch.pst_index] = hidden[rows, batch.last_index]",
                              "hidden[rows, batch.pst_index] = hidden[rows, batch.pst_index]",
                              ["token_prepending"], ["cp", "pretcot"]),
    # at the probe models' depth the scaled output layer is the penultimate one: only the real depths tell
    "baseline rule at real depths": ("methods/base.py", 'if obj.rule == "authors":  # every official',
                                     'if obj.rule == "never":  # every official', ["cp", "token_prepending"],
                                     ["prompteol", "kvembed"]),
    "compression prompt": ("methods/kvembed.py", 'document="Context: {text} Compress the Context in one word:"',
                           'document="Context: {text} Compress the Context in two words:"',
                           ["kvembed", "kvembed_no_reroute"], ["prompteol", "echo"]),
    "Echo template": ("methods/echo.py", '"Rewrite the following paragraph: {text}{separator}The rewritten paragraph',
                      '"Rewrite the following paragraph: {text}{separator}The rewritten text', ["echo"],
                      ["kvembed", "mean"]),
    "ID window rule": ("layers.py", 'start = {"start": m,', 'start = {"start": m + 1,', ["kvembed"],
                       [RANGE, "prompteol"]),
    "TwoNN estimator": ("twonn.py", "return float(len(log_mu) / total)", "return float((len(log_mu) - 1) / total)",
                        ["kvembed"], [RANGE, "last"]),
    "STS per-item scores": ("eval/item_scores.py", "pred = cosine_rows(lookup(", "pred = -cosine_rows(lookup(",
                            [("eval", "STS")], [("eval", "Classification"), "kvembed"]),
    "STS evaluator without mteb": ("eval/sts.py", "rho = spearman(cosine_rows(a, b)",
                                   "rho = -spearman(cosine_rows(a, b)", [("eval", "STS")],
                                   [("eval", "Retrieval"), "prompteol"]),
    "task instructions in the mteb adapter": ("eval/mteb_model.py", "texts, instruction = [prefix + t for t in texts]",
                                              "texts, instruction = [t + prefix for t in texts]",
                                              [("eval", "STS", True)], [("eval", "STS"), "echo"]),
    "retrieval proxy relevance": ("eval/tasks/offline.py", "RETRIEVAL_MIN_SCORE = 4.0", "RETRIEVAL_MIN_SCORE = 3.0",
                                  [("eval", "Retrieval")], [("eval", "STS"), ("eval", "Classification")]),
    "symmetric role in the mteb adapter": (
        "eval/mteb_model.py", "role = side if prompt_type is not None else self.model.method.symmetric_role",
        "role = side", [("eval", "STS")], ["echo", "kvembed"]),
    "main score of a task's rows": ("store/results.py", '"metric": "main_score", "value": float(main)',
                                    '"metric": "main_score", "value": float(main) / 2',
                                    [("eval", "Classification"), ("eval", "STS")], ["kvembed"]),
}
@pytest.mark.integration
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_a_one_token_mutation_changes_the_fingerprints_it_affects_and_no_other(name, tmp_path, models, today):
    relative, old, new, changes, keeps = MUTATIONS[name]
    root = copy_package(tmp_path)
    mutate(root, relative, old, new)
    wanted = changes + keeps
    configs = [c for c in wanted if not (isinstance(c, tuple) and c[0] == "eval")]
    types = [c[1:] if len(c) > 2 else c[1] for c in wanted if isinstance(c, tuple) and c[0] == "eval"]
    got = fingerprints_of(root, models, configs, types)
    evals = [c for c in wanted if isinstance(c, tuple) and c[0] == "eval"]
    now = dict(zip(map(json.dumps, configs), got["embeddings"])) | dict(zip(map(json.dumps, evals),
                                                                            got["evaluation"]))

    def before(c) -> str:
        if isinstance(c, tuple) and c[0] == "eval":
            return today("evaluation", c[1:] if len(c) > 2 else c[1])
        return today("embeddings", c)

    for c in changes:
        assert now[json.dumps(c)] != before(c), f"{name} must change the fingerprint of {c}"
    for c in keeps:
        assert now[json.dumps(c)] == before(c), f"{name} must leave the fingerprint of {c} alone"



@pytest.mark.integration
def test_the_migration_probes_a_commits_own_code_in_a_worktree(models, today):
    """scripts/migrate_fingerprints.py runs this checkout's probe against a commit's code: at HEAD it must
    measure exactly what this checkout measures (the package there, not the installed one)."""
    sys.path.insert(0, str(PACKAGE.parent / "scripts"))
    try:
        import migrate_fingerprints
    finally:
        sys.path.pop(0)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PACKAGE.parent, capture_output=True, text=True).stdout
    if not head.strip() or subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "kvembed"],
                                          cwd=PACKAGE.parent).returncode != 0:
        pytest.skip("needs a git checkout whose package is committed (HEAD is what the worktree holds)")
    key = json.dumps(["prompteol", {}, False])
    got = migrate_fingerprints.probe_at(head.strip(), [key], [json.dumps(["Clustering", False])], models)
    assert got["embeddings"][key] == fingerprint.embeddings_fingerprint("prompteol", {}, models)
    assert got["evaluation"][json.dumps(["Clustering", False])] == today("evaluation", "Clustering")
