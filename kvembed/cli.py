"""Command line: ``kvembed encode``, ``kvembed run`` (the Hydra runner), ``kvembed results``.

Each command imports what it needs inside it: ``run`` needs the harness extra, ``results`` the report extra,
``encode`` the library alone, so an install with one of them runs its command (``pip install kvembed[report]``
then ``kvembed results``) and ``kvembed --help`` loads no model stack."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _read_texts(path: Path, field: str) -> list[str]:
    if path.suffix == ".jsonl":
        texts = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                if field not in row:
                    raise ValueError(f"{path}:{n}: no {field!r} field")
                texts.append(row[field])
        return texts
    return path.read_text(encoding="utf-8").splitlines()


def _encode(args: argparse.Namespace) -> None:
    import numpy as np

    from .encoder import Encoder
    from .overrides import Overrides

    overrides = Overrides(**{name: getattr(args, name) for name in Overrides.names()})
    enc = Encoder.from_pretrained(args.model, method=args.method, overrides=overrides, dtype=args.dtype,
                                  device=args.device, max_length=args.max_length)
    texts = _read_texts(Path(args.input), args.field)
    emb = enc.encode(texts, prompt_type=args.prompt_type, batch_size=args.batch_size)
    np.save(args.output, emb)
    logging.getLogger("kvembed").info("wrote %s %s (layers %s)", args.output, emb.shape, list(enc.layers))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        from .harness.run import main as run_main

        sys.argv = [sys.argv[0], *argv[1:]]
        run_main()
        return
    from .overrides import DEFAULT, Overrides
    from .prompts import ROLES

    ap = argparse.ArgumentParser(prog="kvembed", description="KV-Embedding and baselines.")
    sub = ap.add_subparsers(dest="command", required=True)
    enc = sub.add_parser("encode", help="embed a .txt (one text per line) or .jsonl file into a .npy file")
    enc.add_argument("--model", required=True, help="named backbone, hub id, model folder or .gguf file")
    enc.add_argument("--method", default="kvembed")
    enc.add_argument("--input", required=True)
    enc.add_argument("--output", required=True)
    enc.add_argument("--field", default="text", help="text field of .jsonl rows")
    for name, option in Overrides.options():  # every override of a method's own settings
        enc.add_argument(f"--{name.replace('_', '-')}", default=DEFAULT, help=f"{option.help} (default: the method's)")
    enc.add_argument("--prompt-type", default="document", choices=ROLES)
    enc.add_argument("--batch-size", type=int, default=32)
    enc.add_argument("--max-length", type=int, default=512)
    enc.add_argument("--dtype", default="auto")
    enc.add_argument("--device", default="auto")
    res = sub.add_parser("results", help="collect results/*.parquet into tables (results/table1.md)")
    res.add_argument("--results-dir", default="results")
    sub.add_parser("run", help="the Hydra runner: kvembed run backbone=... method=... benchmark=...")
    args = ap.parse_args(argv)
    try:
        if args.command == "encode":
            _encode(args)
        elif args.command == "results":
            from .report.tables import main as tables_main

            tables_main(Path(args.results_dir))
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as err:
        print(f"kvembed: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
