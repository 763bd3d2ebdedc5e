"""Real MTEB tasks read from the original files in a data folder given at run time (no hub).

mteb's own task objects and evaluators, with their rows read from the files a user (or a cluster
without the hub) keeps in a folder: ``benchmark.data=<folder>``, or ``$KVEMBED_DATA`` with
``benchmark.data=local``. The layout is the one of the original releases::

    <root>/sts/STS12-en-test … STS16-en-test/   STS.input.<subset>.txt + STS.gs.<subset>.txt (SemEval)
    <root>/sick/SICK_{train,trial,test_annotated}.txt
    <root>/biosses/biosses_sentence_pairs_test_derived_from_github.txt, annotation_scores_from_github.txt
    <root>/banking77/{train,test}.csv, categories.json
    <root>/amazon_counterfactual/EN_{train,valid,test}.tsv, EN-ext_{…}.tsv
    <root>/emotion/{train,val,test}.txt                  (``text;label_name``, dair-ai's CARER release)
    <root>/twitter_url_corpus/Twitter_URL_Corpus_test.txt, train/{a.toks,b.toks,sim.txt}
    <root>/qmsum/test.jsonl.gz                          (Yale-LILY/QMSum, one meeting per line: LoCoV1's qmsum)

Every split is checked against the descriptive statistics that ship inside mteb (rows, unique texts and,
for STS, the mean gold score); a missing file or a mismatch is an error that names the file. A ``limit``
keeps a fixed, seeded sample of each evaluation split and, for classification, a pool of
``TRAIN_POOL × limit`` training texts that mteb draws its few examples per label from (mteb 2 encodes the
union of its ten draws, ~6,000 Banking77 texts, which would dominate a sampled run); without a limit every
split is whole.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mteb
from datasets import Dataset, DatasetDict
from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData

from .locov1 import LOCOV1_TASKS
from .offline import sample_indices
from .statistics import DataCheckError, check, mteb_statistics, sts_expected, sts_statistics

ENV = "KVEMBED_DATA"  # the data folder of benchmark.data=local
TRAIN_POOL = 10  # under a limit, the classifier's train split keeps this many texts per evaluated one


class LocalDataError(DataCheckError):
    """The data folder lacks a file a task needs, or a file does not hold the rows mteb's statistics say."""


def resolve_data_root(configured: str | os.PathLike | None = None) -> Path | None:
    """The data folder: the configured one, else ``$KVEMBED_DATA``, else None (tasks come from the hub)."""
    value = configured or os.environ.get(ENV)
    return Path(value).expanduser() if value else None


def _need(path: Path) -> Path:
    if not path.exists():
        raise LocalDataError(f"Missing data file {path} (data folder: benchmark.data=<folder> or ${ENV})")
    return path


def _check(task_name: str, got: dict[str, Any], want: dict[str, Any], where: Path,
           keys: tuple[str, ...] | None = None) -> None:
    try:
        check(task_name, got, want, where, keys)
    except DataCheckError as err:
        raise LocalDataError(str(err)) from None


# ---------------------------------------------------------------------------------------------- STS
def _semeval_pairs(folder: Path) -> list[tuple[str, str, float]]:
    """SemEval STS 2012–16 test files: every subset with both an input and a gold file; unscored lines
    (an empty gold line) are skipped, as the organisers' scorer and mteb do."""
    _need(folder)
    pairs = []
    for gold in sorted(folder.glob("STS.gs.*.txt")):
        subset = gold.name[len("STS.gs."):-len(".txt")]
        source = folder / f"STS.input.{subset}.txt"
        if not source.exists():  # STS.gs.ALL (a concatenation) and STS13's SMT (input withheld by licence)
            continue
        lines = source.read_text(encoding="utf-8").splitlines()
        scores = gold.read_text(encoding="utf-8").splitlines()
        if len(lines) != len(scores):
            raise LocalDataError(f"{source} has {len(lines)} lines but {gold} has {len(scores)}")
        for line, score in zip(lines, scores):
            if score.strip():
                s1, s2 = line.split("\t")[:2]
                pairs.append((s1, s2, float(score)))
    return pairs


def _sick_pairs(folder: Path) -> list[tuple[str, str, float]]:
    """SICK: mteb's SICK-R evaluates all 9,927 pairs (train, trial and test together)."""
    pairs = []
    for name in ("SICK_train.txt", "SICK_trial.txt", "SICK_test_annotated.txt"):
        with _need(folder / name).open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                pairs.append((row["sentence_A"], row["sentence_B"], float(row["relatedness_score"])))
    return pairs


def _biosses_pairs(folder: Path) -> list[tuple[str, str, float]]:
    text_file = _need(folder / "biosses_sentence_pairs_test_derived_from_github.txt")
    score_file = _need(folder / "annotation_scores_from_github.txt")
    lines = [line for line in text_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    scores = [float(s) for s in score_file.read_text(encoding="utf-8").split()]
    if len(lines) != 2 * len(scores):
        raise LocalDataError(f"{text_file} has {len(lines)} sentences for {len(scores)} scores in {score_file}")
    return [(lines[2 * i], lines[2 * i + 1], scores[i]) for i in range(len(scores))]


STS_SOURCES: dict[str, tuple[str, Callable[[Path], list[tuple[str, str, float]]], bool]] = {
    # name: (folder, reader, whether the unique-text counts equal mteb's). The SICK and BIOSSES originals
    # differ from mteb's hub copies in a handful of sentences (a few unique texts, ≤ 0.2% of the
    # characters), so for those two only the pair count and the mean gold score are checked.
    **{f"STS1{k}": (f"sts/STS1{k}-en-test", _semeval_pairs, True) for k in range(2, 7)},
    "SICK-R": ("sick", _sick_pairs, False),
    "BIOSSES": ("biosses", _biosses_pairs, False),
}


def sts_task(name: str, root: Path, limit: int | None = None, seed: int = 0):
    """mteb's own STS task ``name`` with its test split read from ``root``."""
    folder, read, exact_texts = STS_SOURCES[name]
    pairs = read(root / folder)
    keys = ("num_samples", "avg_score") + (("text1_unique", "text2_unique") if exact_texts else ())
    _check(name, sts_statistics(pairs), sts_expected(name), root / folder, keys)
    return _pairs_task(name, pairs, "score", limit, seed)


def _pairs_task(name: str, pairs: list[tuple[str, str, Any]], third: str, limit: int | None, seed: int):
    """mteb's own task ``name`` whose test split is a seeded sample of ``pairs`` (sentence1, sentence2, ``third``)."""
    pairs = [pairs[i] for i in sample_indices(len(pairs), limit, seed)]
    task = mteb.get_task(name)
    task.dataset = DatasetDict({"test": Dataset.from_dict({
        "sentence1": [p[0] for p in pairs], "sentence2": [p[1] for p in pairs], third: [p[2] for p in pairs]})})
    task.data_loaded = True
    return task


# ------------------------------------------------------------------------------------- Classification
def _banking77(folder: Path) -> dict[str, dict[str, list]]:
    categories = json.loads(_need(folder / "categories.json").read_text(encoding="utf-8"))
    label = {c: i for i, c in enumerate(categories)}
    splits = {}
    for split in ("train", "test"):
        path = _need(folder / f"{split}.csv")
        with path.open(encoding="utf-8", newline="") as f:  # quoted fields span lines: a CSV reader, not lines
            rows = list(csv.DictReader(f))
        unknown = {r["category"] for r in rows} - set(label)
        if unknown:
            raise LocalDataError(f"{path} has categories {sorted(unknown)} that {folder / 'categories.json'} lacks")
        splits[split] = {"text": [r["text"] for r in rows], "label": [label[r["category"]] for r in rows]}
    return {"default": splits}


def _amazon_counterfactual(folder: Path) -> dict[str, dict[str, dict[str, list]]]:
    subsets = {}
    for subset, prefix in (("en", "EN"), ("en-ext", "EN-ext")):
        splits = {}
        for split, suffix in (("train", "train"), ("validation", "valid"), ("test", "test")):
            with _need(folder / f"{prefix}_{suffix}.tsv").open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
            splits[split] = {"text": [r["sentence"] for r in rows],
                             "label": [int(r["is_counterfactual"]) for r in rows]}
        subsets[subset] = splits
    return subsets


EMOTIONS = ("sadness", "joy", "love", "anger", "fear", "surprise")  # mteb's label ids 0-5


def _emotion(folder: Path) -> dict[str, dict[str, dict[str, list]]]:
    splits = {}
    for split, name in (("train", "train"), ("validation", "val"), ("test", "test")):
        path = _need(folder / f"{name}.txt")
        lines = path.read_text(encoding="utf-8").splitlines()[1:]  # a header line, then text;label_name
        rows = [line.rsplit(";", 1) for line in lines if line.strip()]  # the text may hold ';' itself
        unknown = sorted({r[-1] for r in rows} - set(EMOTIONS))
        if unknown or any(len(r) != 2 for r in rows):
            raise LocalDataError(f"{path}: expected 'text;label' lines with labels {EMOTIONS}, found {unknown}")
        splits[split] = {"text": [r[0] for r in rows], "label": [EMOTIONS.index(r[1]) for r in rows]}
    return {"default": splits}


CLASSIFICATION_SOURCES: dict[str, tuple[str, Callable[[Path], dict], tuple[str, ...]]] = {
    # name: (folder, reader, the subsets evaluated — mteb's English ones that the folder holds)
    "Banking77Classification": ("banking77", _banking77, ("default",)),
    "AmazonCounterfactualClassification": ("amazon_counterfactual", _amazon_counterfactual, ("en",)),
    "EmotionClassification": ("emotion", _emotion, ("default",)),
}


def classification_task(name: str, root: Path, limit: int | None = None, seed: int = 0):
    """mteb's own classification task ``name`` with its splits read from ``root`` (English subsets only)."""
    folder, read, subsets = CLASSIFICATION_SOURCES[name]
    data = read(root / folder)
    stats = mteb_statistics(name, "Classification")
    task = mteb.get_task(name)
    if subsets != ("default",):
        task.hf_subsets = list(subsets)
    built = {}
    for subset in subsets:
        splits = {}
        for split, cols in data[subset].items():
            if split in stats:
                want = stats[split] if subset == "default" else stats[split]["hf_subset_descriptive_stats"][subset]
                # the number of texts per label (a label's id is the file's own naming, not always mteb's)
                sizes = sorted(v["count"] for v in want["label_statistics"]["labels"].values())
                _check(f"{name} ({subset}, {split})", {"num_samples": len(cols["text"]),
                                                       "unique_texts": len(set(cols["text"])),
                                                       "label_sizes": sorted(_counts(cols["label"]).values())},
                       {"num_samples": want["num_samples"], "unique_texts": want["text_statistics"]["unique_texts"],
                        "label_sizes": sizes}, root / folder)
            if limit is not None:
                size = limit if split in task.metadata.eval_splits else TRAIN_POOL * limit
                keep = sample_indices(len(cols["text"]), size, seed)
                cols = {k: [v[i] for i in keep] for k, v in cols.items()}
            splits[split] = Dataset.from_dict(cols)
        built[subset] = DatasetDict(splits)
    task.dataset = built["default"] if subsets == ("default",) else built
    task.data_loaded = True
    return task


def _counts(labels: list) -> dict[str, int]:
    return {str(k): labels.count(k) for k in sorted(set(labels))}


# ------------------------------------------------------------------------------------- PairClassification
def _paraphrase_label(judged: str) -> int | None:
    """The original corpus' ``(n,6)``: n of 6 annotators judged a paraphrase; mteb keeps n <= 2 as 0 and
    n >= 4 as 1, and drops n = 3."""
    n = int(judged.strip("()").split(",")[0])
    return None if n == 3 else int(n >= 4)


def _twitter_url_corpus(folder: Path) -> list[tuple[str, str, int]]:
    """mteb's ``test`` is the corpus' train and test parts together: the train part from its lower-cased,
    tokenised copy (``train/``: label already 0/1), the test part from the original file."""
    train = folder / "train"
    a, b, sim = (_need(train / f).read_text(encoding="utf-8").splitlines() for f in ("a.toks", "b.toks", "sim.txt"))
    if not len(a) == len(b) == len(sim):
        raise LocalDataError(f"{train}: a.toks, b.toks and sim.txt must have one line per pair "
                             f"({len(a)}, {len(b)}, {len(sim)} lines)")
    pairs = [(x, y, int(z)) for x, y, z in zip(a, b, sim)]
    path = _need(folder / "Twitter_URL_Corpus_test.txt")
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        judged = next((f for f in fields[2:] if f.startswith("(") and f.endswith(",6)")), None)
        if judged is None:
            raise LocalDataError(f"{path}:{number}: no '(n,6)' judgement field")
        label = _paraphrase_label(judged)
        if label is not None:
            pairs.append((fields[0], fields[1], label))
    return pairs


# The known difference of the files from mteb's hub copy, stated wherever their scores are shown.
KNOWN_DIFFERENCES = {
    "TwitterURLCorpus": "its train part (42,200 of 51,534 pairs) is the corpus' lower-cased, tokenised copy, "
                        "so scores are comparable to MTEB's, not identical",
    "LoCoV1.qmsum": "built from QMSum's original test split (35 meetings, 281 reference summaries as queries); "
                    "LoCoV1's code reads SCROLLS, whose document is the question followed by the transcript (one "
                    "document per query), while here each transcript is one document, so its rows are LoCoV1's "
                    "task, not LoCoV1's rows",
}


def pair_classification_task(name: str, root: Path, limit: int | None = None, seed: int = 0):
    """mteb's TwitterURLCorpus with its pairs read from ``root`` (counts and labels checked against mteb's
    statistics; its unique texts differ, ``KNOWN_DIFFERENCES``)."""
    folder = root / "twitter_url_corpus"
    pairs = _twitter_url_corpus(folder)
    want = mteb_statistics(name, "PairClassification")["test"]
    _check(name, {"num_samples": len(pairs), "labels": _counts([p[2] for p in pairs])},
           {"num_samples": want["num_samples"],
            "labels": {k: v["count"] for k, v in want["labels_statistics"]["labels"].items()}}, folder)
    return _pairs_task(name, pairs, "labels", limit, seed)


PAIR_SOURCES = ("TwitterURLCorpus",)

# ------------------------------------------------------------------------------------------ QMSum (LoCoV1)

QMSUM_TEST = {"meetings": 35, "queries": 281}  # the QMSum / SCROLLS test split


def render_meeting(turns: list[dict[str, str]]) -> str:
    """A QMSum meeting as one document: one ``speaker: content`` line per turn, as SCROLLS (whose ``qmsum``
    LoCoV1 reads: HazyResearch/m2 ``bert/loco_eval.py``, ``tau_scrolls_qmsum_config``) writes a transcript."""
    return "\n".join(f"{t['speaker']}: {t['content']}" for t in turns)


def _qmsum(folder: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """(documents, [(query, document index)]) of QMSum's test split: each meeting once; each of its queries'
    reference summaries (LoCoV1's query column is SCROLLS' ``output``) retrieves it."""
    path = _need(folder / "test.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        meetings = [json.loads(line) for line in fh if line.strip()]
    documents = [render_meeting(m["meeting_transcripts"]) for m in meetings]
    queries = [(q["answer"], i) for i, m in enumerate(meetings)
               for q in m["general_query_list"] + m["specific_query_list"]]
    got = {"meetings": len(documents), "queries": len(queries)}
    if got != QMSUM_TEST:
        raise LocalDataError(f"LoCoV1.qmsum: {path} holds {got}, QMSum's test split has {QMSUM_TEST}")
    return documents, queries


def qmsum_task(name: str, root: Path, limit: int | None = None, seed: int = 0):
    """LoCoV1's ``qmsum`` (nDCG@10) from QMSum's original test split: 281 summaries, each retrieving its
    meeting among the 35 (``KNOWN_DIFFERENCES``); a ``limit`` keeps a seeded sample of the queries, never
    fewer documents."""
    folder = root / "qmsum"
    documents, queries = _qmsum(folder)
    queries = [queries[i] for i in sample_indices(len(queries), limit, seed)]
    task = LOCOV1_TASKS[name]()
    task.dataset = {"default": {"test": RetrievalSplitData(
        corpus=Dataset.from_dict({"id": [f"meeting-{i}" for i in range(len(documents))], "text": documents}),
        queries=Dataset.from_dict({"id": [f"q{i}" for i in range(len(queries))], "text": [q for q, _ in queries]}),
        relevant_docs={f"q{i}": {f"meeting-{d}": 1} for i, (_, d) in enumerate(queries)},
        top_ranked=None)}}
    task.data_loaded = True
    return task


RETRIEVAL_SOURCES = ("LoCoV1.qmsum",)
LOCAL_TASKS = tuple(STS_SOURCES) + tuple(CLASSIFICATION_SOURCES) + PAIR_SOURCES + RETRIEVAL_SOURCES


def local_task(name: str, root: Path, limit: int | None = None, seed: int = 0):
    """mteb's own task ``name`` with its rows read from the original files under ``root``."""
    if name in STS_SOURCES:
        return sts_task(name, root, limit, seed)
    if name in CLASSIFICATION_SOURCES:
        return classification_task(name, root, limit, seed)
    if name in PAIR_SOURCES:
        return pair_classification_task(name, root, limit, seed)
    if name in RETRIEVAL_SOURCES:
        return qmsum_task(name, root, limit, seed)
    raise ValueError(f"No local files are known for task {name!r}; local tasks: {list(LOCAL_TASKS)}")
