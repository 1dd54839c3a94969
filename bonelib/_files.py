"""Writing files so that a crash never leaves half of one on disk."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    The temporary file keeps the target's suffix so that writers that choose a format by
    suffix (NumPy, tifffile) behave as they would on the target.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: str | Path, value: object) -> None:
    """Write ``value`` as indented JSON to ``path`` atomically (never half a file)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(value, indent=1))


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Write dict rows (the first row's keys as the header) as CSV to ``path`` atomically."""
    if not rows:
        raise ValueError(f"{path}: no rows to write")
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)
