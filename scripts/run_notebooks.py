"""Execute every notebook in notebooks/ headless (jupytext → nbclient); they write PNGs to results/figures/.

    python scripts/run_notebooks.py                              # all notebooks on results/
    python scripts/run_notebooks.py --results R --figures F      # other folders (the CI test uses this)
    python scripts/run_notebooks.py notebooks/02_sweeps.py       # one notebook

Executed copies (with outputs) are written next to the figures as .ipynb, for reading on GitHub.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(notebook: Path, results: Path, figures: Path, timeout: int = 600) -> Path:
    """Execute one jupytext notebook with KVEMBED_RESULTS/KVEMBED_FIGURES set; returns the executed .ipynb."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    nb = jupytext.read(notebook)
    os.environ["KVEMBED_RESULTS"] = str(results.resolve())
    os.environ["KVEMBED_FIGURES"] = str(figures.resolve())
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    figures.mkdir(parents=True, exist_ok=True)
    out = figures / f"{notebook.stem}.ipynb"
    nbformat.write(nb, out)
    # committed copies must not carry this machine's absolute paths (the checkout's, or the environment's
    # in a warning's traceback)
    text = out.read_text()
    for prefix, short in ((sys.prefix, "<env>"), (str(ROOT), ".")):
        text = text.replace(prefix + "/", short + "/" if short != "." else "").replace(prefix, short)
    out.write_text(text)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--figures", type=Path, default=None, help="default: <results>/figures")
    args = ap.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("[0-9]*.py"))
    figures = args.figures or args.results / "figures"
    failed = []
    for nb in notebooks:
        print(f"executing {nb.name}", flush=True)
        try:
            run(nb, args.results, figures)
        except Exception as err:  # noqa: BLE001 - report every failing notebook, then fail
            last = str(err).strip().splitlines()[-1] if str(err).strip() else ""
            failed.append(f"{nb.name}: {type(err).__name__}: {last}")
    for png in sorted(figures.glob("*.png")):
        print(f"  wrote {png.relative_to(ROOT) if png.is_relative_to(ROOT) else png}")
    if failed:
        sys.exit("failed notebooks:\n  " + "\n  ".join(failed))


if __name__ == "__main__":
    main()
