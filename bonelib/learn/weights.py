"""The weights of a trained ensemble on disk, for both routes' networks.

One ``<name>.npz`` of float16 weights per network (half the size of float32; predictions
change by well under the networks' spread) and an ``ensemble.json`` index that the route
writes (:func:`bonelib.slices.pretrained.save`, :func:`bonelib.cubes.pretrained.write_index`) and reads back
(:func:`bonelib.slices.pretrained.load_pretrained`, :func:`bonelib.cubes.pretrained.load_pretrained`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bonelib._files import atomic_path


def save_weights(model, path: str | Path) -> Path:
    """Write a Keras model's weights as float16 (``.npz``, atomically): half the size, and
    predictions that differ from float32 weights by well under the ensemble's spread."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, *[w.astype(np.float16) for w in model.get_weights()])
    return Path(path)


def load_weights(model, path: str | Path):
    """Set a built Keras model's weights from a file of :func:`save_weights`; return the model."""
    with np.load(path) as stored:
        model.set_weights([stored[f"arr_{i}"].astype(np.float32) for i in range(len(stored.files))])
    return model


def read_index(folder: Path, remedy: str) -> dict:
    """The ``ensemble.json`` of an ensemble folder; a clear error naming the command that makes it."""
    index = folder / "ensemble.json"
    if not index.exists():
        raise FileNotFoundError(f"{folder}: no ensemble.json (run `{remedy}` to make the models)")
    return json.loads(index.read_text())
