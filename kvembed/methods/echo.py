"""Echo embeddings (Springer et al. 2024, arXiv 2402.15449), as jakespringer/echo-embeddings runs them.

The text is shown twice; tokens of the second copy have seen the whole first copy.

``echo`` is the training-free baseline: the zero-shot rewrite prompt the author confirms for the paper's
zero-shot runs (jakespringer/echo-embeddings issue #8: "Rewrite the following paragraph: i am a boy. The
rewritten paragraph: i am a boy", the mean "only for the tokens in the second occurrence"), one template
for every role, pooled over the second copy alone (``mean_text``: no EOS), each template piece tokenised on
its own and cut to ``max_length`` tokens as the official ``EchoParser._tokenize_piece`` does. Neither the
code nor the answer fixes the separator between the parts (the answer writes the prompt inline, with ``. ``);
of ``ECHO_SEPARATORS`` the newline scored higher on the STS-B dev split and is the default (prompt preset
``echo_period`` keeps the other).

``echo_finetuned`` uses the templates the repository documents for its released fine-tuned checkpoints
(``README.md``/``example.py``), without ``<s>`` (kvembed adds the tokenizer's own BOS):

    document:  Document:{text}\\nDocument again:{text}{eos}
    query:     Query:{text}\\nQuery again:{text}{eos}
    query, with a task instruction:  Instruct:{instruction}\\nQuery:{text}\\nQuery again:{text}{eos}

pooled over the second copy and the EOS token; symmetric tasks use the query template ("encode both
sentences using the query template"). The instruction is the official ``{!%%prompt%%,}`` piece: the
instruction followed by a comma, seen by every later token and not pooled; documents get none.
"""

from __future__ import annotations

from ..prompts import Prompt
from .base import MethodSpec

REWRITE = "Rewrite the following paragraph: {text}{separator}The rewritten paragraph: {text}"
ECHO_SEPARATORS = {"period": ". ", "newline": "\n"}
# chosen on the STS-B dev split (results/baseline_dev_smollm2-135m.md): the newline scored higher than ". "
ECHO = Prompt.same(REWRITE.format(text="{text}", separator=ECHO_SEPARATORS["newline"]))
ECHO_FINETUNED = Prompt(document="Document:{text}\nDocument again:{text}{eos}",
                        query="Query:{text}\nQuery again:{text}{eos}")
ECHO_INSTRUCTED = Prompt(document=ECHO_FINETUNED.document,
                         query="Instruct:{instruction}\nQuery:{text}\nQuery again:{text}{eos}")

METHODS = [
    MethodSpec("echo", ECHO, "mean_text",
               "Echo embeddings (Springer et al. 2024, arXiv 2402.15449), training-free: the author's zero-shot "
               "rewrite prompt, the mean over the second copy", tokenization="pieces"),
    MethodSpec("echo_finetuned", ECHO_FINETUNED, "mean_from_text",
               "Echo with the templates of jakespringer/echo-embeddings' fine-tuned checkpoints (Document:/Query: "
               "... again, EOS pooled)", tokenization="pieces", symmetric_role="query",
               instructed_prompt=ECHO_INSTRUCTED, instruction_format="{instruction},"),
]
