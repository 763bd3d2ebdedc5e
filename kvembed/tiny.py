"""Tiny random-init decoders of the real architectures, for tests and quick runs without downloads.

Each is built in code (seeded), with a byte-level BPE tokenizer trained locally on STS-B sentences, and
saved as an ordinary Hugging Face folder, so it loads through exactly the same path as a real model.
They cover what the real backbones stress: grouped-query attention (all), Qwen3's q/k-norm, Qwen2's
q/k/v projection biases (drawn non-zero: the stock initialisation zeroes them), Mistral's sliding window
(smaller than typical inputs) and Gemma-3's mix of local and global layers.
"""

from __future__ import annotations

from pathlib import Path

from .paths import atomic_dir, cache_dir

TINY_VERSION = "v2"  # bump when configs change, so stale cached folders are not reused
TINY_ARCHS = ("llama", "mistral", "qwen3", "qwen2", "gemma3")

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
    import transformers as tf

    ids = dict(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad)
    if arch == "llama":
        return tf.LlamaConfig(**_COMMON, **ids)
    if arch == "mistral":
        return tf.MistralConfig(**_COMMON, **ids, sliding_window=8)
    if arch == "qwen3":
        return tf.Qwen3Config(**_COMMON, **ids, use_sliding_window=False)
    if arch == "qwen2":
        return tf.Qwen2Config(**_COMMON, **ids, use_sliding_window=False)
    if arch == "gemma3":
        return tf.Gemma3TextConfig(
            # query_pre_attn_scalar != head_dim, so attention's own scaling (not 1/sqrt(head_dim)) is exercised
            **_COMMON, **ids, sliding_window=8, query_pre_attn_scalar=24,
            layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2,
        )
    raise ValueError(f"Unknown tiny architecture {arch!r}; choose one of {TINY_ARCHS}")


def _train_tokenizer(add_bos: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from .data.stsb import unique_sentences

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
    import torch
    import transformers as tf

    tokenizer = _train_tokenizer(add_bos=arch in ("llama", "mistral", "gemma3"))
    config = _config(
        arch, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    torch.manual_seed(0)
    model = tf.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    with torch.no_grad():  # attention biases drawn, not zero, so that they matter in every test
        for name, param in model.named_parameters():
            if name.endswith(("q_proj.bias", "k_proj.bias", "v_proj.bias")):
                param.normal_(0.0, 0.5)
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return final
