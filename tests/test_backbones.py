"""Loading backbones: named, folders, GGUF; clear errors for everything that cannot load here."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kvembed import Encoder
from kvembed.backbones import BACKBONES, BackboneUnavailableError, load_backbone


def test_unknown_backbone_lists_the_named_ones():
    with pytest.raises(ValueError, match="smollm2-135m"):
        load_backbone("definitely-not-a-model")


def test_uncached_hub_model_fails_fast_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(BackboneUnavailableError, match="HF_HUB_OFFLINE=1") as err:
        load_backbone("mistral-7b")
    assert "mistralai/Mistral-7B-v0.1" in str(err.value)
    assert time.perf_counter() - start < 20  # not the hub client's retry loop


def test_unreachable_hub_fails_fast_without_offline_flag(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    with pytest.raises(BackboneUnavailableError, match="unreachable"):
        load_backbone("someone/some-model")


def test_unsupported_architecture_is_rejected(tmp_path):
    import transformers as tf

    tf.GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=10).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="Unsupported architecture 'gpt2'"):
        load_backbone(str(tmp_path))


def test_folder_without_config_and_missing_gguf(tmp_path):
    with pytest.raises(ValueError, match="no config.json"):
        load_backbone(str(tmp_path))
    with pytest.raises(FileNotFoundError):
        load_backbone(str(tmp_path / "model.gguf"))


def test_a_local_folder_loads_like_a_named_backbone(tiny_backbones, sentences):
    from kvembed.tiny import tiny_model_dir

    named = tiny_backbones("qwen3")
    assert named.source == "tiny:qwen3-v2"  # recorded without this machine's cache path
    from_dir = load_backbone(str(tiny_model_dir("qwen3")), dtype="float32")
    a = Encoder.from_pretrained(named, method="prompteol").encode(sentences)
    b = Encoder.from_pretrained(from_dir, method="prompteol").encode(sentences)
    np.testing.assert_array_equal(a, b)


def test_bf16_on_cpu_returns_float32_embeddings(sentences):
    enc = Encoder.from_pretrained("tiny-llama", method="kvembed", layers=[2], dtype="bfloat16")
    emb = enc.encode(sentences)
    assert enc.backbone.dtype == "bfloat16" and emb.dtype == np.float32 and np.isfinite(emb).all()


def test_bad_dtype_and_device():
    with pytest.raises(ValueError, match="Unknown dtype"):
        load_backbone("tiny-llama", dtype="float8")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            load_backbone("tiny-llama", device="cuda")


def test_paper_backbones_are_named():
    assert BACKBONES["qwen3-4b"].hub_id == "Qwen/Qwen3-4B"
    assert BACKBONES["mistral-7b"].hub_id == "mistralai/Mistral-7B-v0.1"
    assert BACKBONES["llama-3.1-8b"].hub_id == "meta-llama/Llama-3.1-8B"


def _fake_parts(tmp_path, monkeypatch, payloads: list[bytes], digest: str | None = None):
    """A GGUF split over part packages, as gemma3-270m ships; returns the spec."""
    import hashlib

    from kvembed import backbones

    spec = backbones.BackboneSpec("fake-gguf", gguf_package="fake_main", gguf_file="m.gguf",
                                  gguf_parts_packages=tuple(f"fake_part{i}" for i in range(len(payloads))),
                                  pip_hint="pip install fake")
    dirs = {"fake_main": tmp_path / "fake_main"}
    (dirs["fake_main"] / "data").mkdir(parents=True)
    whole = b"".join(payloads)
    digest = digest or hashlib.sha256(whole).hexdigest()
    (dirs["fake_main"] / "data" / "SHA256SUMS").write_text(f"{digest}  m.gguf\n")
    for i, payload in enumerate(payloads):
        d = dirs[f"fake_part{i}"] = tmp_path / f"fake_part{i}"
        (d / "data").mkdir(parents=True)
        (d / "data" / f"m.gguf.part{i:02d}").write_bytes(payload)

    def package_dir(name, hint):
        if name not in dirs:
            raise BackboneUnavailableError(f"Package {name!r} is not installed. Run: {hint}")
        return dirs[name]

    monkeypatch.setattr(backbones, "_package_dir", package_dir)
    monkeypatch.setenv("KVEMBED_CACHE", str(tmp_path / "cache"))
    return spec


def test_a_gguf_split_over_packages_is_concatenated_in_order_and_checksummed(tmp_path, monkeypatch):
    from kvembed.backbones import _gguf_path

    spec = _fake_parts(tmp_path, monkeypatch, [b"GGUF-head", b"-middle-", b"tail"])
    path = _gguf_path(spec)
    assert path.read_bytes() == b"GGUF-head-middle-tail"
    assert _gguf_path(spec) == path  # assembled once


def test_a_gguf_split_with_a_wrong_checksum_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    from kvembed.backbones import _gguf_path

    spec = _fake_parts(tmp_path, monkeypatch, [b"a", b"b"], digest="0" * 64)
    with pytest.raises(BackboneUnavailableError, match="sha256"):
        _gguf_path(spec)
    assert not any((tmp_path / "cache").rglob("m.gguf*"))


def test_gemma_is_an_optional_backbone_with_its_licence_named():
    spec = BACKBONES["gemma3-270m"]
    assert "Gemma Terms of Use" in spec.licence and len(spec.gguf_parts_packages) == 4
    assert BACKBONES["smollm2-135m"].gguf_parts_packages == ()  # never the default


def test_parts_named_partNN_with_the_checksum_stated_in_code_are_assembled_and_checked(tmp_path, monkeypatch):
    """As the Qwen2.5-Coder packages ship them: data/partNN.bin, no SHA256SUMS in any package."""
    import dataclasses
    import hashlib

    from kvembed.backbones import _gguf_path

    base = _fake_parts(tmp_path, monkeypatch, [b"x"])
    for i, payload in enumerate([b"GGUF", b"-qwen2"]):
        d = tmp_path / f"qwen_part{i + 1}" / "data"
        d.mkdir(parents=True)
        (d / f"part{i + 1:02d}.bin").write_bytes(payload)
    from kvembed import backbones

    real = backbones._package_dir
    monkeypatch.setattr(backbones, "_package_dir",
                        lambda name, hint: tmp_path / name if name.startswith("qwen_part") else real(name, hint))
    spec = dataclasses.replace(base, name="fake-qwen", gguf_package=None, gguf_file="q.gguf",
                               gguf_parts_packages=("qwen_part1", "qwen_part2"), gguf_part_glob="part*.bin",
                               gguf_sha256=hashlib.sha256(b"GGUF-qwen2").hexdigest())
    assert _gguf_path(spec).read_bytes() == b"GGUF-qwen2"
    wrong = dataclasses.replace(spec, gguf_file="q2.gguf", gguf_sha256="0" * 64)
    with pytest.raises(BackboneUnavailableError, match="sha256"):
        _gguf_path(wrong)


def test_the_qwen2_backbones_are_optional_code_tuned_models_with_their_checksums():
    small, large = BACKBONES["qwen2.5-coder-0.5b"], BACKBONES["qwen2.5-coder-1.5b"]
    assert len(small.gguf_parts_packages) == 6 and len(large.gguf_parts_packages) == 22
    assert small.gguf_sha256.startswith("1d961463") and large.gguf_sha256.startswith("cc324af0")
    assert "code-tuned" in small.notes and "code-tuned" in large.notes
    assert (small.num_layers, large.num_layers) == (24, 28)
