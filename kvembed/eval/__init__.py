"""Evaluation: the mteb adapter, tasks (offline STS-B and proxies, LoCoV1), per-item scores, STS and
embedding-geometry metrics. Imports the core library; nothing of the harness or the report."""
