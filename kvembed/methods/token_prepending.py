"""Token Prepending (Fu et al. 2025, ACL, arXiv 2412.11556), as fuyuchenIfyw/token_prepending runs it.

A new token ``<PST>`` (added to the tokenizer; its embedding row is random) sits before the quoted
sentence: ``This sentence : <PST> "[X]" means in one word:"`` (``evaluate.py``). Before each decoder layer
in [start, stop) the placeholder's state is overwritten by the last token's state entering that layer
(``senllm/modeling_llama.py``: the loop ``tp_starting_index <= i < tp_exiting_index``); the embedding is
the last token's state at the official ``output_layer`` (early exit, per model in ``config.yaml``). The
sentence clean-up and whole-string tokenisation are PromptEOL's.

Each entry of the official ``config.yaml`` pairs its layers with the prompt they were tuned with
(``prompt_method``): ``llama-2-7b-tp`` with PromptEOL, ``llama-3-8b-tp``, ``qwen2-7b-tp`` and
``gemma2-9b-tp`` with PretCoT (``cot``). ``token_prepending`` runs that pairing on every backbone (the
prompt follows the entry its layers come from); ``token_prepending_prompteol``, ``_pretcot`` and ``_ke``
fix the prompt whatever the entry (MetaEOL, an average over eight prompts, is not offered).

A backbone without an entry (SmolLM2, Mistral, Qwen2.5 ...) reads ``hidden_states[-2]``, the output layer of
every entry but Llama-2-7B's, with Llama-2-7B's TP layers scaled to its depth (inferred).
``token_prepending_depth_scaled`` scales Llama-2-7B's whole entry, output layer included (kvembed's earlier
inference); ``token_prepending_script_default`` is ``evaluate.py`` run without a config: PromptEOL, TP from
layer 1 to the end, the final normed state.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec, TokenPrepending

# evaluate.py, the ``task_prompts`` of each ``prompt_method`` with ``use_which_plan == 'tp'``
TEMPLATES = {
    "prompteol": 'This sentence : {pst} "{text}" means in one word:"',
    "pretcot": 'After thinking step by step , this sentence : {pst} "{text}" means in one word:"',
    "ke": ("The essence of a sentence is often captured by its main subjects and actions, while descriptive "
           "terms provide additional but less central details. With this in mind , this sentence : "
           '{pst} "{text}" means in one word:"'),
}


def paired_prompt(name: str) -> Prompt:
    """The TP template of an official entry's ``prompt_method``."""
    return Prompt.same(TEMPLATES[name])


CITED = "Fu et al. 2025, arXiv 2412.11556"
SUMMARIES = {
    "authors": f"Token Prepending ({CITED}) as its official config.yaml pairs each backbone's layers with their "
               "prompt; the penultimate layer where it has no entry (inferred)",
    "depth_scaled": "Token Prepending with Llama-2-7B's official entry scaled to the backbone's depth, output layer "
                    "included (kvembed's earlier inference)",
    "script_default": "Token Prepending as fuyuchenIfyw/token_prepending evaluate.py runs without --config: "
                      "PromptEOL, TP from layer 1 to the end, the final normed state",
}
METHODS = [
    # the llama-2 entry's pairing stands in until a backbone's entry is known (kvembed.recipe resolves it)
    *[MethodSpec(f"token_prepending{suffix}", paired_prompt("prompteol"), "last", SUMMARIES[rule],
                 preprocess="prompteol", token_prepending=TokenPrepending(paired_prompt=True, rule=rule))
      for suffix, rule in (("", "authors"), ("_depth_scaled", "depth_scaled"), ("_script_default", "script_default"))],
    *[MethodSpec(f"token_prepending_{name}", paired_prompt(name), "last",
                 f"Token Prepending ({CITED}) with the {label} prompt on every backbone", preprocess="prompteol",
                 token_prepending=TokenPrepending())
      for name, label in (("prompteol", "PromptEOL"), ("pretcot", "PretCoT"), ("ke", "KE"))],
]
