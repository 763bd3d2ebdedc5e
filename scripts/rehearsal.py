"""The paper's backbones as stand-ins for a rehearsal without the hub or the weights (tooling beside the
package, not in it: ``make rehearsal-hub``, ``make rehearse``, ``make gpu-check`` and the tests use it).

Each hub id keeps its published ``config.json`` (architecture class and attention geometry: head_dim,
query/KV head ratio, q/k-norm, RoPE type and scaling, sliding window, tied embeddings, special token ids,
vocabulary size) and changes only depth and width (and, where asked, the vocabulary); the weights are
random (seeded). The tokenizer is a small BPE trained here on STS-B sentences, carrying each family's
special tokens at their real ids and its BOS convention. ``write_hub_cache`` puts the folder into a Hugging
Face hub cache under the real hub id, so ``from_pretrained("Qwen/Qwen3-4B")`` with ``HF_HUB_OFFLINE=1``
loads it through the user's own code path.

The configuration values are copied from each model's published ``config.json`` (``PUBLISHED[...].source``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import datasets
import mteb
import pandas as pd
import transformers as tf
from datasets.naming import camelcase_to_snakecase
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from kvembed.data.stsb import unique_sentences
from kvembed.eval.tasks.locov1 import DOCUMENTS_REPO, QUERIES_REPO
from kvembed.tiny import save_standin


@dataclass(frozen=True)
class Published:
    """A model's published configuration and its tokenizer's conventions."""

    source: str  # where the values below were read
    config: dict[str, Any]
    style: str  # "bytelevel" (GPT-2 style BPE: Llama-3, Qwen) or "metaspace" (sentencepiece style: Mistral)
    specials: dict[str, int]  # special tokens at their real ids
    bos: str | None  # the token the tokenizer puts in front of every text (None: nothing)
    eos: str
    pad: str | None = None
    unk: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # tokenizer_config fields kept as published


_LLAMA31 = dict(
    architectures=["LlamaForCausalLM"], model_type="llama", attention_bias=False, attention_dropout=0.0,
    bos_token_id=128000, eos_token_id=128001, hidden_act="silu", hidden_size=4096, initializer_range=0.02,
    intermediate_size=14336, max_position_embeddings=131072, mlp_bias=False, num_attention_heads=32,
    num_hidden_layers=32, num_key_value_heads=8, pretraining_tp=1, rms_norm_eps=1e-05,
    rope_scaling={"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
    rope_theta=500000.0, tie_word_embeddings=False, torch_dtype="bfloat16", vocab_size=128256,
)
_LLAMA31_SPECIALS = {"<|begin_of_text|>": 128000, "<|end_of_text|>": 128001, "<|start_header_id|>": 128006,
                     "<|end_header_id|>": 128007, "<|eom_id|>": 128008, "<|eot_id|>": 128009}
_MISTRAL = dict(
    architectures=["MistralForCausalLM"], model_type="mistral", bos_token_id=1, eos_token_id=2, hidden_act="silu",
    hidden_size=4096, initializer_range=0.02, intermediate_size=14336, max_position_embeddings=32768,
    num_attention_heads=32, num_hidden_layers=32, num_key_value_heads=8, rms_norm_eps=1e-05, rope_theta=10000.0,
    sliding_window=4096, tie_word_embeddings=False, torch_dtype="bfloat16", vocab_size=32000,
)
_QWEN3_4B = dict(
    architectures=["Qwen3ForCausalLM"], model_type="qwen3", attention_bias=False, attention_dropout=0.0,
    bos_token_id=151643, eos_token_id=151645, head_dim=128, hidden_act="silu", hidden_size=2560,
    initializer_range=0.02, intermediate_size=9728, max_position_embeddings=40960, max_window_layers=36,
    num_attention_heads=32, num_hidden_layers=36, num_key_value_heads=8, rms_norm_eps=1e-06, rope_scaling=None,
    rope_theta=1000000, sliding_window=None, tie_word_embeddings=True, torch_dtype="bfloat16",
    use_sliding_window=False, vocab_size=151936,
)
_QWEN_SPECIALS = {"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645}
_MISTRAL_SPECIALS = {"<unk>": 0, "<s>": 1, "</s>": 2}


def _hf(hub_id: str) -> str:
    return f"https://huggingface.co/{hub_id}/blob/main/config.json (and tokenizer_config.json)"


PUBLISHED: dict[str, Published] = {
    "Qwen/Qwen3-4B": Published(_hf("Qwen/Qwen3-4B"), _QWEN3_4B, "bytelevel", _QWEN_SPECIALS, None,
                               "<|im_end|>", pad="<|endoftext|>"),
    "Qwen/Qwen3-4B-Base": Published(_hf("Qwen/Qwen3-4B-Base"), dict(_QWEN3_4B, eos_token_id=151643,
                                                                    max_position_embeddings=32768),
                                    "bytelevel", _QWEN_SPECIALS, None, "<|endoftext|>", pad="<|endoftext|>"),
    "mistralai/Mistral-7B-v0.1": Published(_hf("mistralai/Mistral-7B-v0.1"), _MISTRAL, "metaspace",
                                           _MISTRAL_SPECIALS, "<s>", "</s>", unk="<unk>"),
    "mistralai/Mistral-7B-Instruct-v0.2": Published(
        _hf("mistralai/Mistral-7B-Instruct-v0.2"), dict(_MISTRAL, rope_theta=1000000.0, sliding_window=None),
        "metaspace", _MISTRAL_SPECIALS, "<s>", "</s>", unk="<unk>"),
    "meta-llama/Llama-3.1-8B": Published(_hf("meta-llama/Llama-3.1-8B"), _LLAMA31, "bytelevel",
                                         _LLAMA31_SPECIALS, "<|begin_of_text|>", "<|end_of_text|>"),
    "meta-llama/Llama-3.1-8B-Instruct": Published(
        _hf("meta-llama/Llama-3.1-8B-Instruct"), dict(_LLAMA31, eos_token_id=[128001, 128008, 128009]),
        "bytelevel", _LLAMA31_SPECIALS, "<|begin_of_text|>", "<|eot_id|>"),
}

# The rehearsal's size: every geometry field as published (head_dim 128, the 4:1 query/KV ratio, norms, RoPE,
# window, tying, ids) at small depth and width: 4 query heads on 1 KV head instead of 32 on 8, so a
# 4,096-token rehearsal stays cheap on a CPU (tests/test_real_geometry.py checks the real head count).
# Eight layers: the deepest official baseline setting on these families ends there (Token Prepending on
# Qwen: layers [1, 6); Contrastive Prompting on Llama-3: layer 6), so every Table 1 method runs on them.
SMALL = dict(num_hidden_layers=8, hidden_size=128, intermediate_size=256, num_attention_heads=4,
             num_key_value_heads=1)


def full_width(hub_id: str, layers: int = 2, vocab_size: int = 2048) -> dict[str, int]:
    """Overrides for ``build_model`` that keep the published width and head layout at a few layers and a
    reduced vocabulary (the real-geometry tests and the GPU check)."""
    cfg = PUBLISHED[hub_id].config
    return dict(num_hidden_layers=layers, hidden_size=cfg["hidden_size"], intermediate_size=cfg["intermediate_size"],
                num_attention_heads=cfg["num_attention_heads"], num_key_value_heads=cfg["num_key_value_heads"],
                vocab_size=vocab_size)


def config_dict(hub_id: str, **overrides: Any) -> dict[str, Any]:
    """The published configuration of ``hub_id`` with ``overrides`` (e.g. depth, width, vocabulary).
    ``head_dim`` is stated explicitly so that a smaller hidden size keeps the real head layout."""
    if hub_id not in PUBLISHED:
        raise ValueError(f"No published configuration for {hub_id!r}; known: {sorted(PUBLISHED)}")
    cfg = dict(PUBLISHED[hub_id].config)
    cfg.setdefault("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    cfg.update(overrides)
    if cfg.get("max_window_layers") is not None:
        cfg["max_window_layers"] = cfg["num_hidden_layers"]
    return cfg


def tokenizer(hub_id: str, vocab_size: int | None = None, merges: int = 2000):
    """A small BPE tokenizer with the family's special tokens at their real ids and its BOS convention.
    Trained tokens take the lowest ids; ids between them and the specials are ordinary placeholder tokens
    that no text produces, so ``len(tokenizer)`` stays within ``vocab_size``."""
    pub = PUBLISHED[hub_id]
    size = vocab_size or pub.config["vocab_size"]
    tok = Tokenizer(models.BPE(unk_token=pub.unk))
    if pub.style == "bytelevel":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:  # sentencepiece style: words carry a leading "▁"
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.Strip(" ", 1, 0)])
        alphabet = []
    low = [t for t, i in sorted(pub.specials.items(), key=lambda x: x[1]) if i < merges]
    trainer = trainers.BpeTrainer(vocab_size=merges, special_tokens=low, initial_alphabet=alphabet,
                                  show_progress=False)
    tok.train_from_iterator(_sentences(), trainer=trainer)
    # the specials at their real ids. Real vocabularies are ordinary tokens up to there, so the gap is filled
    # with ordinary placeholder tokens no merge can produce; as added tokens instead, the ~150k placeholders
    # made every load of the tokenizer take ~10 s. A reduced vocabulary (geometry tests) keeps the same
    # specials right after the trained tokens instead.
    high = sorted(((t, i) for t, i in pub.specials.items() if t not in low), key=lambda x: x[1])
    if high and size > high[-1][1]:
        data = json.loads(tok.to_str())
        vocab, ids = data["model"]["vocab"], {i: t for t, i in high}
        vocab.update({ids.get(i, f"<|filler_{i}|>"): i for i in range(tok.get_vocab_size(), high[-1][1] + 1)})
        tok = Tokenizer.from_str(json.dumps(data))
        tok.add_special_tokens([t for t, _ in high])  # already in the vocabulary: their ids stay
        assert all(tok.token_to_id(t) == i for t, i in pub.specials.items()), "special ids moved"
    elif high:
        tok.add_special_tokens([t for t, _ in high])
    if pub.bos is not None:
        tok.post_processor = processors.TemplateProcessing(
            single=f"{pub.bos} $A", pair=f"{pub.bos} $A $B", special_tokens=[(pub.bos, tok.token_to_id(pub.bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=pub.bos, eos_token=pub.eos, pad_token=pub.pad,
                                   unk_token=pub.unk, add_prefix_space=None)


def build_model(hub_id: str, folder: Path, seed: int = 0, dtype: str = "bfloat16", **overrides: Any) -> Path:
    """Save the stand-in of ``hub_id`` (``SMALL`` unless ``overrides`` say otherwise) as a model folder."""
    cfg = config_dict(hub_id, **{**SMALL, **overrides})
    tok = tokenizer(hub_id, vocab_size=cfg["vocab_size"])
    by_id = {i: t for t, i in PUBLISHED[hub_id].specials.items()}
    for key in ("bos_token_id", "eos_token_id"):  # the same tokens, wherever a reduced vocabulary put them
        ids = cfg.get(key)
        if ids is not None:
            cfg[key] = ([tok.convert_tokens_to_ids(by_id[i]) for i in ids] if isinstance(ids, list)
                        else tok.convert_tokens_to_ids(by_id[ids]))
    config_cls = tf.AutoConfig.for_model(cfg["model_type"]).__class__
    config = config_cls(**{k: v for k, v in cfg.items() if k not in ("model_type", "torch_dtype")})
    return save_standin(config, tok, folder, seed=seed, dtype=dtype)


def commit_of(folder: Path) -> str:
    """A 40-hex commit name derived from the folder's contents (stable across rebuilds of the same files)."""
    digest = hashlib.sha1()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def write_hub_cache(hub_id: str, folder: Path, cache: Path) -> str:
    """Place a model folder into a Hugging Face hub cache (``HF_HUB_CACHE`` layout) under ``hub_id`` on
    branch ``main``; returns its commit."""
    commit = commit_of(folder)
    repo = Path(cache) / f"models--{hub_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    if not snapshot.exists():
        tmp = snapshot.with_name(f".{commit}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(folder, tmp)
        tmp.rename(snapshot)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return commit


def build_hub(cache: Path, hub_ids: list[str] | None = None, **overrides: Any) -> dict[str, str]:
    """The rehearsal hub: every ``hub_id`` (default: all of ``PUBLISHED``) built and cached; {hub id: commit}."""
    out = {}
    for hub_id in hub_ids or list(PUBLISHED):
        with tempfile.TemporaryDirectory() as tmp:
            out[hub_id] = write_hub_cache(hub_id, build_model(hub_id, Path(tmp) / "model", **overrides), cache)
    return out


# ---------------------------------------------------------------------------------------------------------
# Datasets: mteb tasks in their real schemas, a handful of rows each, in the datasets library's offline cache
# (with HF_DATASETS_OFFLINE=1, ``load_dataset(path, revision=...)`` falls back to the newest cached
# configuration under ``<HF_DATASETS_CACHE>/<namespace>___<name>/<config>/<version>/<hash>/``), so mteb's own
# ``load_data`` and evaluators run on them unchanged. Rows are STS-B sentences, not the tasks' data.


@cache  # every tokenizer and every task's rows draw from it
def _sentences() -> tuple[str, ...]:
    return tuple(unique_sentences("train"))


def _texts(n: int, offset: int = 0) -> list[str]:
    pool = _sentences()
    return [pool[(offset + i) % len(pool)] for i in range(n)]


def task_rows(task, n: int = 12) -> dict[str, dict[str, dict[str, list]]]:
    """{config: {split: {column: values}}} for ``task`` in the schema its mteb loader reads."""
    kind = task.metadata.type
    split = task.metadata.eval_splits[0]
    if kind == "Classification":
        labels = 3
        train = {"text": _texts(8 * labels), "label": [i % labels for i in range(8 * labels)]}
        test = {"text": _texts(n, 100), "label": [i % labels for i in range(n)]}
        return {"default": {"train": train, split: test}}
    if kind == "Clustering":
        return {"default": {split: {"sentences": [_texts(n, 200), _texts(n, 300)],
                                    "labels": [[i % 3 for i in range(n)], [i % 2 for i in range(n)]]}}}
    if kind == "PairClassification":  # the hub files' own column names (the tasks rename sent1/sent2)
        return {"default": {split: {"sent1": [_texts(n, 400)], "sent2": [_texts(n, 500)],
                                    "labels": [[i % 2 for i in range(n)]]}}}
    if kind == "STS":
        return {"default": {split: {"sentence1": _texts(n, 600), "sentence2": _texts(n, 700),
                                    "score": [float(i % 6) for i in range(n)]}}}
    if kind == "Summarization":
        return {"default": {split: {"id": [str(i) for i in range(4)], "text": _texts(4, 800),
                                    "human_summaries": [_texts(2, 900 + 2 * i) for i in range(4)],
                                    "machine_summaries": [_texts(3, 950 + 3 * i) for i in range(4)],
                                    "relevance": [[1.0 + i, 2.0, 3.5] for i in range(4)]}}}
    if kind in ("Retrieval", "Reranking"):
        docs = [f"d{i}" for i in range(2 * n)]
        queries = [f"q{i}" for i in range(n // 2)]
        out = {"corpus": {split: {"_id": docs, "title": ["" for _ in docs], "text": _texts(len(docs), 1000)}},
               "queries": {split: {"_id": queries, "text": _texts(len(queries), 1100)}},
               "default": {split: {"query-id": queries, "corpus-id": docs[: len(queries)],
                                   "score": [1 for _ in queries]}}}
        if kind == "Reranking":
            out["top_ranked"] = {split: {"query-id": queries,
                                         "corpus-ids": [docs[i: i + 5] for i in range(len(queries))]}}
        return out
    raise ValueError(f"No rehearsal rows for task type {kind!r} ({task.metadata.name})")


def write_dataset_cache(path: str, revision: str, configs: dict[str, dict[str, dict[str, list]]],
                        cache: Path) -> None:
    """Write ``configs`` as the datasets library's cache of hub dataset ``path`` at ``revision``."""
    namespace, name = path.split("/")
    snake = camelcase_to_snakecase(name)
    for config, splits in configs.items():
        dest = Path(cache) / f"{namespace}___{snake}" / config / "0.0.0" / revision
        if (dest / "dataset_info.json").exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for split, cols in splits.items():
                files[split] = str(Path(tmp) / f"{split}.parquet")
                pd.DataFrame(cols).to_parquet(files[split])
            builder = datasets.load_dataset_builder("parquet", data_files=files, cache_dir=str(Path(tmp) / "build"))
            builder.download_and_prepare()
            dest.mkdir(parents=True, exist_ok=True)
            for f in Path(builder.cache_dir).iterdir():
                if f.is_file() and not f.name.endswith(".lock"):
                    shutil.copy(f, dest / f.name.replace("parquet-", f"{snake}-", 1))
        info = json.loads((dest / "dataset_info.json").read_text())
        info.update(config_name=config, dataset_name=snake, builder_name=snake)
        (dest / "dataset_info.json").write_text(json.dumps(info))


def build_datasets(cache: Path, task_names: list[str]) -> list[str]:
    """Every task of ``task_names`` in the datasets cache under its real hub path and revision."""
    for name in task_names:
        task = mteb.get_task(name)
        data = task.metadata.dataset
        write_dataset_cache(data["path"], data["revision"], task_rows(task), cache)
    return task_names


def locov1_rows(queries: pd.DataFrame, documents: pd.DataFrame, longest: int,
                words: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rehearsal's LoCoV1 rows from a folder's: every query and document kept, each document cut to at most
    ``words`` words, except one (the first query's answer) made longer than ``longest`` tokens by repeating its
    own text, so the sweep's longest length truncates a real input. Every word is at least one token for the
    stand-ins' tokenizers (ByteLevel and Metaspace pre-tokenisation), so ``longest + 1`` words are enough.
    Long documents are what the sweep costs (attention grows with the square of the length): cutting the rest
    keeps the whole grid on two CPU cores."""
    documents = documents.copy()
    passages = documents["passage"].fillna("").astype(str)
    documents["passage"] = [" ".join(w[:words]) if len(w := p.split()) > words else p for p in passages]
    long_pid = queries["answer_pids"].iloc[0][0]
    row = documents.index[documents["pid"] == long_pid][0]
    base = passages[row].split() or ["word"]
    documents.loc[row, "passage"] = " ".join((base * (longest // len(base) + 2))[: longest + 1])
    return queries, documents


def build_locov1(cache: Path, folder: Path, longest: int | None = None) -> None:
    """LoCoV1's two hub datasets (queries, documents; split ``test``) from a folder in their layout
    (``queries.jsonl``, ``documents.jsonl``, e.g. the repository's fixture), into the datasets cache; with
    ``longest``, the rows are the rehearsal's (``locov1_rows``)."""
    queries, documents = (pd.read_json(Path(folder) / f, lines=True) for f in ("queries.jsonl", "documents.jsonl"))
    if longest is not None:
        queries, documents = locov1_rows(queries, documents, longest)
    for repo, table in ((QUERIES_REPO, queries), (DOCUMENTS_REPO, documents)):
        write_dataset_cache(repo, "main", {"default": {"test": {c: table[c].tolist() for c in table.columns}}}, cache)
