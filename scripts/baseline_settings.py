"""Per-backbone Token Prepending and Contrastive Prompting settings, as kvembed resolves them, rendered
from the code (``kvembed.recipe.resolve``) into docs/methods.md.

    python scripts/baseline_settings.py            # print the table
    python scripts/baseline_settings.py --write    # rewrite docs/methods.md's block between its markers
    python scripts/baseline_settings.py --check    # exit 1 if docs/methods.md's block differs (the tests run this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kvembed.backbones import BACKBONES
from kvembed.methods import get_method
from kvembed.methods.token_prepending import TEMPLATES
from kvembed.recipe import resolve

PAGE = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
BEGIN, END = "<!-- baseline-settings:begin (scripts/baseline_settings.py --write) -->", "<!-- baseline-settings:end -->"
PAPER = ("qwen3-4b", "mistral-7b", "llama-3.1-8b")
WHY = ("The released code of neither baseline can run on the paper's backbones, so every paper-backbone value "
       "is `inferred`: Token Prepending's `evaluate.py` loads only Llama, Qwen2 and Gemma-2 paths (Mistral "
       "raises; a Qwen3 path matches no branch) and its `senllm/modeling_llama.py` hard-codes Llama-2 token "
       "ids; Contrastive Prompting's `evaluate_intervention.py` builds its intervention model only for Llama "
       "paths, and its run script names Llama-2-7B and Meta-Llama-3-8B alone.")


def rows() -> list[dict[str, str]]:
    """One row per named backbone with a known depth: TP (prompt, layers, output) and CP settings with sources,
    as the recipe of each method on that backbone holds them."""
    out = []
    for name, spec in BACKBONES.items():
        facts = spec.facts()
        if facts is None:
            continue
        tp, cp = resolve(get_method("token_prepending"), facts), resolve(get_method("cp"), facts)
        out.append({
            "backbone": f"`{name}`" + (" (paper)" if name in PAPER else ""),
            "layers": str(facts.num_layers),
            "TP prompt": next(p for p, template in TEMPLATES.items() if template == tp.prompt_document),
            "TP layers [start, stop)": "{}–{}".format(*tp.tp_layers),
            "TP output": str(tp.output_layer),
            "TP source": tp.baseline_settings_source,
            "CP layer, c": f"{cp.cp_layer}, {cp.cp_coeff}",
            "CP output": str(cp.output_layer),
            "CP source": cp.baseline_settings_source,
        })
    return out


def markdown() -> str:
    table = rows()
    cols = list(table[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(r[c] for c in cols) + " |" for r in table]
    return "\n".join([BEGIN, *lines, "", WHY, END])


def splice(text: str, block: str) -> str:
    if BEGIN not in text or END not in text:
        raise ValueError(f"{PAGE.name} has no {BEGIN!r} … {END!r} block")
    head, rest = text.split(BEGIN, 1)
    return head + block + rest.split(END, 1)[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    block = markdown()
    if args.write or args.check:
        current = PAGE.read_text()
        wanted = splice(current, block)
        if args.check:
            if wanted != current:
                print(f"{PAGE.name}: the baseline-settings block is stale; run scripts/baseline_settings.py --write")
                return 1
            return 0
        PAGE.write_text(wanted)
        return 0
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
