"""The paper's path rehearsed with the hub switched off (``scripts/rehearse.py``, ``make rehearse``): the three
backbones under their hub ids and mteb_table1's 25 tasks in their real schemas and revisions, served to the
real loaders from the hub and datasets caches; ``prefetch --pin``, the Table 1 driver and the LoCoV1 length
sweep, through the real runner, into a scratch folder. CI runs the slice (each backbone x kvembed and mean x
all 25 tasks); ``make rehearse`` runs the whole grid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import rehearse  # noqa: E402

sys.path.pop(0)
FIXTURE = Path(__file__).parent / "fixtures" / "locov1"
ROOT = Path(__file__).resolve().parents[1]


def test_every_mteb_table1_task_loads_through_mtebs_own_loader_from_the_rehearsal_cache(tmp_path, monkeypatch):
    import datasets
    import mteb
    import yaml

    from kvembed.harness.job import CONFIG_DIR
    from scripts.rehearsal import build_datasets

    tasks = yaml.safe_load((Path(CONFIG_DIR) / "benchmark" / "mteb_table1.yaml").read_text())["tasks"]
    build_datasets(tmp_path, tasks)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    for name in tasks:
        task = mteb.get_task(name)
        task.load_data()  # mteb's code, unchanged: the rows come from the datasets cache
        assert task.data_loaded, name


@pytest.mark.integration
def test_the_rehearsal_slice_fills_table1_and_the_locov1_table(tmp_path):
    """Also ``make prefetch`` on the real path with the hub switched off: it pins the rehearsal hub's commit, the
    runs load each backbone by its hub id and record that commit, and loading the pinned commit by name gets
    the real architecture."""
    clean = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    rehearse.main(["--slice", "--scratch", str(tmp_path)])  # exits non-zero when a cell is missing
    results = tmp_path / "results-slice" / "basic"
    table = pd.read_csv(results / "table1.csv")
    assert set(table["backbone"]) == set(rehearse.BACKBONES) and set(table["method"]) == {"kvembed", "mean"}
    rows = pd.concat(pd.read_parquet(f) for f in (results / "runs").rglob("*.parquet")
                     if not f.name.endswith(".items.parquet"))
    hub_ids = {"qwen3-4b": "Qwen/Qwen3-4B", "mistral-7b": "mistralai/Mistral-7B-v0.1",
               "llama-3.1-8b": "meta-llama/Llama-3.1-8B"}
    commits = {name: (tmp_path / "hub" / f"models--{hub_id.replace('/', '--')}" / "refs" / "main").read_text()
               for name, hub_id in hub_ids.items()}
    pinned = json.loads((tmp_path / "hub" / "kvembed-revisions.json").read_text())["revisions"]
    assert pinned == commits  # prefetch pinned each commit in the lock file beside the hub cache
    assert subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout == \
        clean  # and not into the source tree: the checkout is as it was
    for name, hub_id in hub_ids.items():
        ran = rows[rows["backbone"] == name]
        assert set(ran["backbone_source"]) == {hub_id} and set(ran["revision"]) == {commits[name]}, name
    # the Python API with no revision given loads the pinned commit
    probe = ("from kvembed import Encoder; import sys\n"
             "for name, commit in zip(sys.argv[1::2], sys.argv[2::2]):\n"
             "    b = Encoder.from_pretrained(name, method='mean', dtype='float32', device='cpu').backbone\n"
             "    c = b.model.config\n"
             "    print(type(b.model).__name__, c.num_attention_heads, c.num_key_value_heads, c.head_dim, "
             "b.tokenizer.convert_ids_to_tokens(b.tokenizer('A cat.')['input_ids'][0]), b.revision == commit)")
    loaded = subprocess.run([sys.executable, "-c", probe, *(x for kv in commits.items() for x in kv)],
                            env=rehearse.environment(tmp_path), capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.splitlines()[-3:] == [  # 4:1 at head_dim 128; each family's BOS convention
        "Qwen3Model 4 1 128 A True", "MistralModel 4 1 128 <s> True", "LlamaModel 4 1 128 <|begin_of_text|> True"]
    # the longest swept length truncated a real input on every stand-in's tokenizer
    import datasets
    from transformers import AutoTokenizer

    from kvembed.eval.tasks.locov1 import DOCUMENTS_REPO

    docs = datasets.load_dataset(DOCUMENTS_REPO, split="test", cache_dir=str(tmp_path / "datasets"))
    longest = max(docs["passage"], key=len)
    for hub_id in hub_ids.values():
        tok = AutoTokenizer.from_pretrained(hub_id, cache_dir=tmp_path / "hub", local_files_only=True)
        assert len(tok(longest)["input_ids"]) > max(rehearse.locov1_lengths()), hub_id


def test_the_rehearsal_locov1_rows_keep_every_query_and_answer_and_one_document_outgrows_the_longest_length():
    from scripts.rehearsal import locov1_rows

    queries, documents = (pd.read_json(FIXTURE / f, lines=True) for f in ("queries.jsonl", "documents.jsonl"))
    q, d = locov1_rows(queries, documents, longest=4096, words=300)
    words = [len(p.split()) for p in d["passage"]]
    assert sum(w > 4096 for w in words) == 1 and max(w for w in words if w <= 4096) <= 300
    assert q.equals(queries) and list(d["pid"]) == list(documents["pid"])
    assert {p for pids in q["answer_pids"] for p in pids} <= set(d["pid"])


def test_every_table1_method_has_its_per_backbone_layers_within_the_stand_ins_depth():
    """The stand-ins keep the depth every method's official layer setting needs (Token Prepending on Qwen
    ends at layer 6, Contrastive Prompting on Llama-3 steers layer 6), or the whole grid fails on them."""
    from kvembed.backbones import BACKBONES
    from kvembed.harness.jobs import expand
    from kvembed.methods import get_method
    from scripts.rehearsal import PUBLISHED, SMALL, config_dict

    methods = {o.split("=", 1)[1] for job in expand("table1") for o in job if o.startswith("method=")}
    assert len(methods) >= 9
    for name, spec in BACKBONES.items():
        if spec.hub_id not in PUBLISHED:
            continue
        depth = config_dict(spec.hub_id, **SMALL)["num_hidden_layers"]
        for method in sorted(methods):
            m = get_method(method)
            for baseline in (m.token_prepending, m.contrastive):
                if baseline is not None:
                    baseline.settings(spec.hub_id, name, depth)  # raises when the layers do not fit


@pytest.mark.parametrize("hub_id", ["Qwen/Qwen3-4B", "meta-llama/Llama-3.1-8B"])
def test_the_stand_in_tokenizer_has_the_real_special_ids_and_no_other_added_tokens(hub_id):
    """The ids below the specials are ordinary (never produced) vocabulary, as in the real tokenizers: as
    ~150k added tokens they made every load of a stand-in take ~10 s."""
    from scripts.rehearsal import PUBLISHED, tokenizer

    tok, specials = tokenizer(hub_id), PUBLISHED[hub_id].specials
    assert {t: tok.convert_tokens_to_ids(t) for t in specials} == specials
    assert set(tok.get_added_vocab()) == set(specials)
    assert len(tok) == max(specials.values()) + 1 <= PUBLISHED[hub_id].config["vocab_size"]
    ids = tok("A man is playing a flute.<|filler_5000|>")["input_ids"]
    assert all(i < 2000 or i in specials.values() for i in ids)  # a placeholder's spelling stays plain text
