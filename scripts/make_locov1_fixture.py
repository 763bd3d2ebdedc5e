"""Build the small LoCoV1 stand-in under tests/fixtures/locov1 (same layout as the hub datasets).

Each of the 12 subsets gets 4 long documents made of real STS-B sentences (~150-1500
tokens) and 3 queries; a query is the sentence2 paraphrase of a sentence1 inside its answer document.
Deterministic: rerunning rewrites identical files.

    python scripts/make_locov1_fixture.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from kvembed.data.stsb import load_stsb
from kvembed.eval.tasks.locov1 import SUBSETS

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "locov1"


def main() -> None:
    rng = random.Random(0)
    pairs = [p for p in load_stsb("train") if p.score >= 3.0]
    rng.shuffle(pairs)
    queries, docs = [], []
    cursor = 0
    for subset in SUBSETS:
        for d in range(4):
            n_sent = rng.choice([10, 25, 50, 90])
            chunk = pairs[cursor:cursor + n_sent]
            cursor += n_sent
            pid = f"{subset}-doc{d}"
            docs.append({"pid": pid, "passage": " ".join(p.sentence1 for p in chunk), "dataset": subset})
            if d < 3:
                q = chunk[rng.randrange(len(chunk))]
                queries.append({"qid": f"{subset}-q{d}", "query": q.sentence2, "answer_pids": [pid],
                                "dataset": subset})
        docs.append({"pid": f"{subset}-empty", "passage": None, "dataset": subset})  # dropped by the loader
    OUT.mkdir(parents=True, exist_ok=True)
    for name, rows in (("queries", queries), ("documents", docs)):
        (OUT / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {len(queries)} queries and {len(docs)} documents to {OUT}")


if __name__ == "__main__":
    main()
