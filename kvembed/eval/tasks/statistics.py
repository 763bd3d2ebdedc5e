"""mteb's descriptive statistics of a task, and the one check that rows read from files hold them: the
packaged STS-B files and a data folder of original files (``local``) both run it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any


class DataCheckError(ValueError):
    """Rows read from files do not hold what mteb's statistics say."""


def mteb_statistics(task_name: str, task_type: str) -> dict[str, Any]:
    """The descriptive statistics mteb ships for ``task_name`` (per split)."""
    return json.loads((resources.files("mteb") / "descriptive_stats" / task_type / f"{task_name}.json").read_text())


def sts_statistics(pairs: Sequence[tuple[str, str, float]]) -> dict[str, Any]:
    """What an STS split's (sentence1, sentence2, score) rows are checked by."""
    return {"num_samples": len(pairs), "avg_score": sum(p[2] for p in pairs) / max(len(pairs), 1),
            "text1_total": sum(len(p[0]) for p in pairs), "text2_total": sum(len(p[1]) for p in pairs),
            "text1_unique": len({p[0] for p in pairs}), "text2_unique": len({p[1] for p in pairs})}


def sts_expected(task_name: str, split: str = "test") -> dict[str, Any]:
    """``sts_statistics``' keys as mteb's statistics give them."""
    s = mteb_statistics(task_name, "STS")[split]
    return {"num_samples": s["num_samples"], "avg_score": float(s["label_statistics"]["avg_score"]),
            "text1_total": s["text1_statistics"]["total_text_length"],
            "text2_total": s["text2_statistics"]["total_text_length"],
            "text1_unique": s["text1_statistics"]["unique_texts"],
            "text2_unique": s["text2_statistics"]["unique_texts"]}


def check(task_name: str, got: dict[str, Any], want: dict[str, Any], where: object,
          keys: Iterable[str] | None = None) -> None:
    """Raise ``DataCheckError`` naming each statistic (of ``keys``, default all of ``want``) that differs."""
    keys = list(want if keys is None else keys)
    bad = {k: (got[k], want[k]) for k in keys
           if (abs(got[k] - want[k]) > 1e-4 if isinstance(want[k], float) else got[k] != want[k])}
    if bad:
        detail = ", ".join(f"{k}: {g} here, {w} in mteb" for k, (g, w) in bad.items())
        raise DataCheckError(f"{task_name}: the files under {where} do not match mteb's descriptive statistics "
                             f"({detail})")
