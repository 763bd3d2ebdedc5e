"""Stand-in models: a configuration, a tokenizer and seeded random weights saved as an ordinary Hugging Face
folder (``save_standin``), so a stand-in loads through exactly the path a real model takes. The one builder of
the tiny models below, of the rehearsal's paper backbones and of the GPU check's full-width models.

The tiny models are the supported architectures (``kvembed.architectures``) at a small size, with a byte-level
BPE tokenizer trained here on STS-B sentences, for tests and quick runs without downloads. They cover what the
real backbones stress: grouped-query attention (all), Qwen3's q/k-norm, Qwen2's q/k/v projection biases (drawn
non-zero: the stock initialisation zeroes them), Mistral's sliding window (smaller than typical inputs) and
Gemma-3's mix of local and global layers.
"""

from __future__ import annotations

from pathlib import Path

import torch
import transformers as tf
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from .architectures import ARCHITECTURES
from .data.stsb import unique_sentences
from .paths import atomic_dir, cache_dir

TINY_VERSION = "v2"  # bump when configs change, so stale cached folders are not reused
TINY_ARCHS = tuple(ARCHITECTURES)

_COMMON = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=6,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=8192,
    rms_norm_eps=1e-6,
    tie_word_embeddings=True,
)


def _config(arch: str, vocab_size: int, bos: int, eos: int, pad: int):
    ids = dict(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    spec = ARCHITECTURES[arch]
    return getattr(tf, spec.config_class)(**_COMMON, **ids, **spec.standin)


def _train_tokenizer(add_bos: bool) -> PreTrainedTokenizerFast:
    specials = ["<|pad|>", "<|bos|>", "<|eos|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1000, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(unique_sentences("train"), trainer=trainer)
    if add_bos:  # like Llama/Mistral tokenizers: a BOS token in front of every encoded text
        tok.post_processor = processors.TemplateProcessing(
            single="<|bos|> $A", pair="<|bos|> $A $B", special_tokens=[("<|bos|>", tok.token_to_id("<|bos|>"))]
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|eos|>", pad_token="<|pad|>"
    )


def tiny_model_dir(arch: str) -> Path:
    """Folder of the tiny ``arch`` model (built and cached on first use, ~1 s)."""
    if arch not in TINY_ARCHS:
        raise ValueError(f"Unknown tiny architecture {arch!r}; choose one of {TINY_ARCHS}")
    final = cache_dir("tiny") / f"{arch}-{TINY_VERSION}"
    if (final / "config.json").exists():
        return final
    tokenizer = _train_tokenizer(add_bos=ARCHITECTURES[arch].bos)
    config = _config(
        arch, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    with atomic_dir(final) as tmp:
        save_standin(config, tokenizer, tmp, draw_biases=True)  # biases drawn: they matter in every test
    return final


def save_standin(config: tf.PretrainedConfig, tokenizer: PreTrainedTokenizerFast, folder: str | Path, *,
                 seed: int = 0, dtype: str = "float32", draw_biases: bool = False) -> Path:
    """Save a model of ``config`` with seeded random weights, and ``tokenizer``, as a model folder.
    ``draw_biases``: q/k/v projection biases drawn from N(0, 0.5²) instead of the stock zeros."""
    torch.manual_seed(seed)
    model = tf.AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    if draw_biases:
        with torch.no_grad():
            for name, param in model.named_parameters():
                if name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
                    param.normal_(0.0, 0.5)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)
