"""Independent re-implementations of the baselines' official code, line by line, for the tests.

They share nothing with kvembed's prompts/forward/pooling: each follows its reference repository's own
steps — string formatting, ``tokenizer(batch, padding=True)`` with the official padding side and pad id,
``output_hidden_states`` indexing, hooks where the official code hooks — on a stock (``sdpa``) model.

* PromptEOL: kongds/scaling_sentemb ``evaluation.py`` batcher (as reused by TP and CP below).
* PretCoT and KE: ZBWpro/PretCoTandKE ``evaluation.py`` batcher with the templates of ``settings.py``
  (``pretcot_ke_batcher``): the template's ``_`` become spaces, and with ``direct_inference`` these two
  prompts read ``hidden_states[-2][:, -1, :]``.
* Token Prepending: fuyuchenIfyw/token_prepending ``evaluate.py`` + ``senllm/modeling_llama.py``, the
  prompt of each ``prompt_method`` (``TP_PROMPTS``).
* Contrastive Prompting: zifengcheng/CP ``evaluate_intervention.py`` + ``activation_intervention``.
* Echo: jakespringer/echo-embeddings ``echo_embeddings.py`` (EchoParser with ``max_length``, EchoPooling).
"""

from __future__ import annotations

import copy
import re

import torch


def _batcher_sentence(s: str) -> str:
    # verbatim logic of the reference batcher
    if len(s) > 0 and s[-1] not in '.?"\'':
        s += '.'
    s = s.replace('"', '\'')
    if len(s) > 0 and '?' == s[-1]:
        s = s[:-1] + '.'
    return s


def _official_tokenizer(tokenizer):
    tok = copy.deepcopy(tokenizer)
    tok.pad_token_id = 0  # "we want this to be different from the eos token"
    tok.padding_side = "left"
    return tok


def prompteol_family(model, tokenizer, sentences, prompt: str, output_layer: int = -1) -> torch.Tensor:
    """``prompt`` uses ``*sent 0*`` as the official code does."""
    tok = _official_tokenizer(tokenizer)
    batch = tok([prompt.replace('*sent 0*', _batcher_sentence(s)).strip() for s in sentences],
                return_tensors='pt', padding=True)
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, return_dict=True, use_cache=False)
    return out.hidden_states[output_layer][:, -1, :]


# ZBWpro/PretCoTandKE settings.py (the direct-inference templates, ``*sent_0*`` as written there)
PRETCOT_KE_SETTINGS = {
    "PromptEOL": 'This sentence : "*sent_0*" means in one word:"',
    "Pretended_CoT": 'After thinking step by step , this sentence : "*sent_0*" means in one word:"',
    "Knowledge_Enhancement": 'The essence of a sentence is often captured by its main subjects and actions, while '
                             'descriptive terms provide additional but less central details. With this in mind , '
                             'this sentence : "*sent_0*" means in one word:"',
}


def pretcot_ke_batcher(model, tokenizer, sentences, prompt: str, direct_inference: bool = True) -> torch.Tensor:
    """ZBWpro/PretCoTandKE ``evaluation.py`` ``batcher`` (``args.avg`` False, ``max_length`` None)."""
    tok = _official_tokenizer(tokenizer)
    template = PRETCOT_KE_SETTINGS[prompt]
    template = template.replace('_', ' ').replace('*sep+*', '').replace('*cls*', '')
    sentences = list(sentences)
    for i, s in enumerate(sentences):
        sentences[i] = template.replace('*sent 0*', _batcher_sentence(s)).strip()
    # batch_encode_plus is gone in transformers 5; calling the tokenizer is its equivalent
    batch = tok(sentences, return_tensors='pt', padding=True, max_length=None, truncation=False)
    with torch.no_grad():
        hidden_states = model(output_hidden_states=True, return_dict=True, use_cache=False, **batch).hidden_states
    if direct_inference and prompt in ['Pretended_CoT', 'Knowledge_Enhancement']:
        return hidden_states[-2][:, -1, :]
    return hidden_states[-1][:, -1, :]


# fuyuchenIfyw/token_prepending evaluate.py: ``task_prompts`` with ``use_which_plan == 'tp'``
TP_PROMPTS = {
    "prompteol": 'This sentence : <PST> \"*sent 0*\" means in one word:\"',
    "cot": 'After thinking step by step , this sentence : <PST> \"*sent 0*\" means in one word:\"',
    "ke": 'The essence of a sentence is often captured by its main subjects and actions, while descriptive terms '
          'provide additional but less central details. With this in mind , this sentence : <PST> \"*sent 0*\" '
          'means in one word:\"',
}
# fuyuchenIfyw/token_prepending config.yaml: the TP entries (tp_starting_index, tp_exiting_index, output_layer,
# prompt_method)
TP_CONFIG = {
    "llama-2-7b-tp": (1, 7, 27, "prompteol"),
    "llama-3-8b-tp": (1, 3, -2, "cot"),
    "qwen2-7b-tp": (1, 6, -2, "cot"),
    "gemma2-9b-tp": (1, 6, -2, "cot"),
}


def token_prepending(model, tokenizer, sentences, prompt: str, start: int, exit_: int, output_layer: int,
                     seed: int = 3407) -> torch.Tensor:
    """``prompt`` contains ``<PST>``; the model is copied and its embeddings resized, as the official code."""
    tok = _official_tokenizer(tokenizer)
    tok.add_tokens(['<PST>'])
    pst_id = tok.convert_tokens_to_ids('<PST>')
    model = copy.deepcopy(model)
    model.resize_token_embeddings(len(tok))
    emb = model.get_input_embeddings()
    with torch.no_grad():
        emb.weight[pst_id] = torch.randn(emb.weight.shape[1], generator=torch.Generator().manual_seed(seed))
    batch = tok([prompt.replace('*sent 0*', _batcher_sentence(s)).strip() for s in sentences],
                return_tensors='pt', padding=True)
    pst_index = (batch['input_ids'] == pst_id).float().argmax(dim=1)
    B = batch['input_ids'].shape[0]

    def replace(index):
        def hook(module, args, kwargs):
            hidden_states = args[0] if args else kwargs['hidden_states']
            previous_sentence_embeddings = hidden_states[:, -1, :].clone()
            hidden_states[torch.arange(B), pst_index, :] = previous_sentence_embeddings
        return hook

    handles = [layer.register_forward_pre_hook(replace(i), with_kwargs=True)
               for i, layer in enumerate(model.layers) if start <= i < exit_]
    try:
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True, return_dict=True, use_cache=False)
    finally:
        for h in handles:
            h.remove()
    return out.hidden_states[output_layer][:, -1, :]


def contrastive_prompting(model, tokenizer, sentences, act_layer: int, coeff: float,
                          output_layer: int) -> torch.Tensor:
    tok = _official_tokenizer(tokenizer)
    task_prompt = "This sentence : \"*sent 0*\" means in one word:\""
    negative_prompt = "The irrelevant information of this sentence : \"*sent 0*\" means in one word:\""
    cleaned = [_batcher_sentence(s) for s in sentences]
    o_proj = model.layers[act_layer].self_attn.o_proj

    captured = []
    handle = o_proj.register_forward_hook(lambda module, inputs, outputs: captured.append(inputs[0]))
    try:
        neg = tok([negative_prompt.replace('*sent 0*', s).strip() for s in cleaned], return_tensors="pt",
                  padding=True)
        with torch.no_grad():
            model(**neg, use_cache=False)
    finally:
        handle.remove()
    negative_activations_batch = captured[0]

    def scaled_difference_hook(_, inputs):
        residual_input, = inputs
        activation_diff = residual_input[:, -1:, :] - negative_activations_batch[:, -1:, :]
        residual_input[:, -1:, :] = coeff * activation_diff
        return residual_input

    handle = o_proj.register_forward_pre_hook(scaled_difference_hook)
    try:
        batch = tok([task_prompt.replace('*sent 0*', s).strip() for s in cleaned], return_tensors='pt', padding=True)
        with torch.no_grad():
            out = model(**batch, output_hidden_states=True, return_dict=True, use_cache=False)
    finally:
        handle.remove()
    return out.hidden_states[output_layer][:, -1, :]


def echo(model, tokenizer, texts, template: str, max_length: int | None = None,
         variables: dict[str, str] | None = None) -> torch.Tensor:
    """EchoParser + EchoPooling('mean'): template pieces in braces are variables (``!`` = not pooled); with
    ``max_length`` every piece is cut to that many tokens (``_tokenize_piece``); ``variables`` fill
    ``%%name%%`` besides the text (e.g. ``prompt``)."""
    matches = list(re.finditer(r'\{(.|\n|\r|\t)+?\}', template))
    pieces = []
    for i, m in enumerate(matches):
        pieces.append(template[:m.start()] if i == 0 else template[matches[i - 1].end():m.start()])
        pieces.append(m.group())
    pieces.append(template[matches[-1].end():])
    pieces = [p for p in pieces if p]
    rows = []
    for x in texts:
        ids, embed = [], []
        for p in pieces:
            if p.startswith('{') and p.endswith('}'):
                body = p[1:-1]
                pooled = not body.startswith('!')
                body = body[1:] if body.startswith('!') else body
                for k, v in {"text": x, **(variables or {})}.items():
                    body = body.replace(f'%%{k}%%', v)
                t = tokenizer(body, add_special_tokens=False)['input_ids']
                t = t[:max_length] if max_length is not None else t
                ids += t
                embed += [int(pooled)] * len(t)
            else:
                t = tokenizer(p, add_special_tokens=False)['input_ids']
                t = t[:max_length] if max_length is not None else t
                ids += t
                embed += [0] * len(t)
        rows.append((ids, embed))
    n = max(len(r[0]) for r in rows)
    input_ids = torch.tensor([r[0] + [tokenizer.pad_token_id] * (n - len(r[0])) for r in rows])  # right padding
    attention = torch.tensor([[1] * len(r[0]) + [0] * (n - len(r[0])) for r in rows])
    embed_mask = torch.tensor([r[1] + [0] * (n - len(r[1])) for r in rows])
    with torch.no_grad():
        token_embeddings = model(input_ids=input_ids, attention_mask=attention, use_cache=False).last_hidden_state
    return torch.sum(token_embeddings * embed_mask.unsqueeze(-1), dim=1) / torch.sum(embed_mask, dim=1).unsqueeze(-1)
