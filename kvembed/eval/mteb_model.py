"""The mteb 2.x adapter: the only place that knows mteb's encode signature."""

from __future__ import annotations

from typing import Any

import numpy as np
from mteb.models.abs_encoder import AbsEncoder
from mteb.models.model_meta import ModelMeta, ScoringFunction
from mteb.types import PromptType

from ..backbones import BACKBONES
from ..embed_cache import role_key
from ..encoder import Encoder, TextEncoder

MEMO_LIMIT = 500_000  # texts kept in memory per job; beyond it new texts are encoded but not kept


class MTEBEncoder(AbsEncoder):
    """Wrap an encoder for ``mteb.evaluate``: queries get the query template, documents the document one,
    both sides of a symmetric task the method's ``symmetric_role`` template. With ``use_instructions`` the
    task's instruction goes where the method puts it: into its ``{instruction}`` slot (Echo: one unpooled
    ``Instruct:`` piece), else before each text (``instruction_template`` with ``{instruction}``); off by
    default, as the paper's use is unknown.

    Each (template, text) is encoded once per job: tasks that share texts (every offline task is built from
    the STS-B sentences) reuse the vectors in memory. Embeddings do not depend on their batch-mates, so the
    scores are those of encoding every task from scratch."""

    def __init__(self, encoder: TextEncoder, batch_size: int = 32, use_instructions: bool = False,
                 instruction_template: str = "{instruction} ", name: str | None = None,
                 memo_limit: int = MEMO_LIMIT, experiment: dict[str, Any] | None = None) -> None:
        self.model = encoder
        self.batch_size = batch_size
        self.use_instructions = use_instructions
        self.instruction_template = instruction_template
        self.recorded: dict[tuple[str, str], np.ndarray] | None = None  # see record()
        self.memo: dict[tuple[str, str], np.ndarray] = {}
        self.memo_limit = memo_limit
        info = encoder.describe()
        meta = model_meta(info["backbone"], info["method"], revision=info["revision"],
                          use_instructions=use_instructions, max_length=encoder.max_length, dtype=info["dtype"])
        # a configuration of the method is an mteb "experiment" of the model: its results go to
        # <model>/<revision>/experiments/<name>/ in mteb's ResultCache layout
        update = {"embed_dim": encoder.dim, "experiment_kwargs": experiment or None}
        self.mteb_model_meta = meta.model_copy(update={**update, **({"name": name} if name else {})})

    def record(self, on: bool = True) -> None:
        """Keep every (role, text) → embedding produced from now on (for per-item scores), or stop."""
        self.recorded = {} if on else None

    def lookup(self, role: str, texts: list[str]) -> np.ndarray:
        """Recorded embeddings of ``texts`` as given to mteb (before any instruction prefix)."""
        keys = [(role, t.strip()) for t in texts]
        missing = [k[1] for k in keys if k not in self.recorded]
        if missing:
            raise KeyError(f"{len(missing)} {role} texts were not encoded in this task, e.g. {missing[0][:60]!r}")
        return np.stack([self.recorded[k] for k in keys])

    def encode(self, inputs, *, task_metadata, hf_split: str, hf_subset: str,
               prompt_type: PromptType | None = None, **kwargs: Any) -> np.ndarray:
        texts: list[str] = []
        for batch in inputs:
            texts.extend(batch["text"])
        raw = texts
        instruction = self.get_instruction(task_metadata, prompt_type) if self.use_instructions else None
        instruction = instruction or None
        if instruction is not None and self.model.method.instructed_prompt is None:
            prefix = self.format_instruction(instruction, prompt_type)  # mteb's helper, with our template
            texts, instruction = [prefix + t for t in texts], None
        side = "query" if prompt_type == PromptType.query else "document"
        # A symmetric task (no prompt type) gets the method's template for both sides (Echo: its query one).
        role = side if prompt_type is not None else self.model.method.symmetric_role
        vectors = self._encode_once(texts, role, instruction)
        if self.recorded is not None:
            # keyed by the stripped text: mteb strips retrieval corpora before encoding them
            self.recorded.update(((side, t.strip()), v) for t, v in zip(raw, vectors))
        return vectors

    def _encode_once(self, texts: list[str], role: str, instruction: str | None = None) -> np.ndarray:
        """Vectors of ``texts`` in ``role``'s template, encoding only what this job has not encoded yet."""
        key = role_key(role, instruction)
        todo = [t for t in dict.fromkeys(texts) if (key, t) not in self.memo]
        fresh: dict[str, np.ndarray] = {}
        if todo:
            vectors = self.model.encode(todo, prompt_type=role, batch_size=self.batch_size,
                                        show_progress_bar=len(todo) > 8 * self.batch_size, instruction=instruction)
            fresh = dict(zip(todo, vectors))
            room = self.memo_limit - len(self.memo)
            self.memo.update(((key, t), v) for t, v in list(fresh.items())[:max(room, 0)])
        dim = self.model.dim
        return np.stack([fresh[t] if t in fresh else self.memo[(key, t)] for t in texts]) if texts else \
            np.zeros((0, dim), dtype=np.float32)


def model_meta(backbone: str, method: str = "kvembed", *, revision: str | None = None,
               use_instructions: bool = False, **options: Any) -> ModelMeta:
    """mteb's declaration of a kvembed model: ``backbone`` (a named backbone or a hub id) with ``method`` and
    its options (``Encoder.from_pretrained`` keywords: overrides such as ``layers="12-14"``, ``dtype``,
    ``max_length``; JSON values, as mteb stores them with the results). ``meta.load_model()`` builds it
    through ``load_mteb_model``, the way mteb loads its own models."""
    spec = BACKBONES.get(backbone)
    return ModelMeta.create_empty(overwrites={
        "loader": load_mteb_model,
        "loader_kwargs": {"backbone": backbone, "method": method, "use_instructions": use_instructions, **options},
        "name": f"kvembed/{backbone}__{method}",
        "revision": str(revision or "local"),
        "n_parameters": int(spec.params) if spec is not None and spec.params else None,
        "reference": f"https://huggingface.co/{spec.hub_id}" if spec is not None and spec.hub_id else None,
        "max_tokens": options.get("max_length", 512),
        "framework": ["PyTorch"],
        "similarity_fn_name": ScoringFunction.COSINE,
        "use_instructions": use_instructions,
        "open_weights": True,
    })


def load_mteb_model(model_name: str, revision: str | None = None, *, backbone: str, method: str = "kvembed",
                    batch_size: int = 32, use_instructions: bool = False, kvembed_config: str | None = None,
                    **options: Any) -> MTEBEncoder:
    """The loader ``model_meta`` declares (mteb calls it with the model's name and revision). ``kvembed_config``
    is the harness's configuration hash, the mteb experiment's name; it changes nothing here."""
    encoder = Encoder.from_pretrained(backbone, method, revision=None if revision in (None, "local") else revision,
                                      **options)
    return MTEBEncoder(encoder, batch_size=batch_size, use_instructions=use_instructions,
                       experiment={"kvembed_config": kvembed_config} if kvembed_config else None)

