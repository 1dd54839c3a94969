"""Execute the book's notebooks with papermill, skipping those already up to date.

Each ``notebooks/NN_name.md`` (jupytext MyST) becomes ``book/generated/NN_name.ipynb``
(then ``notebooks/intro.md``, whose results table reads the chapters' outputs),
executed with the parameter ``scale``; everything else (seed, runs, artefact names) the
notebooks read from :mod:`bonebook.config`. A notebook is executed again only when its
source, the ``bonelib`` or ``bonebook`` sources, the parameters or the scale's result files
changed. The chapters, which read only result files, run side by
side (``--jobs``, default one per core); the introduction runs last.

Usage: ``python -m bonebook.execute [--scale ci|paper] [--force] [--jobs N]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import jupytext
import nbformat
import papermill

from bonebook import config

ROOT = config.ROOT
SOURCES = ROOT / "notebooks"
GENERATED = config.GENERATED


def fingerprint(notebook: Path, parameters: dict) -> str:
    """Hash of what a notebook's outputs depend on: its text, bonelib, the book's own modules, the
    parameters and the scale's result files."""
    digest = hashlib.sha256(notebook.read_bytes())
    results = config.artefacts(parameters["scale"]).snapshot
    for source in [*sorted((ROOT / "bonelib").rglob("*.py")), *sorted((ROOT / "bonebook").rglob("*.py")),
                   *sorted(p for p in results.rglob("*") if p.is_file())]:
        digest.update(source.read_bytes())
    digest.update(json.dumps(parameters, sort_keys=True).encode())
    return digest.hexdigest()


def hide_injected_parameters(path: Path) -> None:
    """Give papermill's injected-parameters cell the ``remove-cell`` tag when the parameters cell has it."""
    notebook = nbformat.read(path, as_version=4)
    tags = [cell.metadata.get("tags", []) for cell in notebook.cells]
    if any("parameters" in t and "remove-cell" in t for t in tags):
        for cell, cell_tags in zip(notebook.cells, tags):
            if "injected-parameters" in cell_tags and "remove-cell" not in cell_tags:
                cell.metadata["tags"] = [*cell_tags, "remove-cell"]
        nbformat.write(notebook, path)


def execute(notebook: Path, parameters: dict, force: bool) -> None:
    """Execute one notebook into ``book/generated`` unless its fingerprint is unchanged."""
    output = GENERATED / f"{notebook.stem}.ipynb"
    stamp = output.with_suffix(".fingerprint")
    key = fingerprint(notebook, parameters)
    if not force and output.exists() and stamp.exists() and stamp.read_text() == key:
        print(f"up to date: {output.relative_to(ROOT)}")
        return
    stamp.unlink(missing_ok=True)
    unexecuted = output.with_suffix(".source.ipynb")
    jupytext.write(jupytext.read(notebook), unexecuted)
    try:
        papermill.execute_notebook(
            unexecuted, output, parameters=parameters, cwd=str(GENERATED), kernel_name="python3", progress_bar=False
        )
    finally:
        unexecuted.unlink(missing_ok=True)
    hide_injected_parameters(output)
    stamp.write_text(key)
    print(f"executed: {output.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=config.SCALES, default="paper",
                        help="which results the book shows (default paper: the committed ones)")
    parser.add_argument("--force", action="store_true", help="execute every notebook again")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="chapters executed at once (default: one per core)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    GENERATED.mkdir(parents=True, exist_ok=True)
    parameters = {"scale": args.scale}
    chapters = sorted(SOURCES.glob("[0-9][0-9]_*.md"))
    # The chapters side by side, then the introduction.
    with ProcessPoolExecutor(max_workers=min(args.jobs, len(chapters))) as pool:
        for done in [pool.submit(execute, notebook, parameters, args.force) for notebook in chapters]:
            done.result()
    execute(SOURCES / "intro.md", parameters, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
