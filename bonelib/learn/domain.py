"""What a network learnt from, and in words why a new input lies outside it.

A network answers every input with a number, also one unlike any it saw in training. Beside the
density range recorded with each ensemble, its ``domain.json`` holds the ranges, over its
training inputs, of measures an input can be checked against:

- the grey-value histogram, as quantiles of the calibrated density ρ_HA
  (:func:`density_quantiles`, mg HA/cm³): a scan from another scanner, another calibration or
  another reconstruction moves them even where its mean density looks familiar;
- for the 3D route, BV/TV from density and the fabric along z of the training cubes.

:func:`outside` lists each measure of an input outside its training range, in words.

>>> ranges = {"rho_p99": [700.0, 1100.0]}
>>> outside({"rho_p99": 1450.0}, ranges)
['99th percentile of ρ_HA 1,450 mg HA/cm³ outside the training range 700–1,100 mg HA/cm³']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from bonelib._files import write_json
from bonelib.text import significant

#: The file of a domain, beside an ensemble's index.
FILE = "domain.json"
#: Quantiles of ρ_HA that describe an image's grey-value histogram: the marrow and noise floor,
#: the bulk (marrow in sparse bone), and the tissue.
QUANTILES = (0.01, 0.5, 0.99)
#: What each measure is called in a warning, and its unit.
WORDS = {"vbmd": ("mean ρ_HA", " mg HA/cm³"), "bv_tv": ("BV/TV", ""), "bv_tv_grey": ("BV/TV (from density)", ""),
         "m_z": ("fabric along z (m_z)", ""),
         **{f"rho_p{round(q * 100):02d}": (f"{_ordinal}ρ_HA", " mg HA/cm³")
            for q, _ordinal in zip(QUANTILES, ("1st percentile of ", "median of ", "99th percentile of "))}}


def density_quantiles(rho: ArrayLike) -> dict[str, float]:
    """The quantiles :data:`QUANTILES` of an image's density (mg HA/cm³), as ``rho_p01``, ``rho_p50``, ``rho_p99``.

    >>> density_quantiles(np.arange(101.0))
    {'rho_p01': 1.0, 'rho_p50': 50.0, 'rho_p99': 99.0}
    """
    values = np.quantile(np.asarray(rho, dtype=np.float64), QUANTILES)
    return {f"rho_p{round(q * 100):02d}": float(v) for q, v in zip(QUANTILES, values)}


def ranges(measures: Iterable[dict[str, float]]) -> dict[str, list[float]]:
    """The smallest and largest value of each measure over the training inputs' ``measures``.

    >>> ranges([{"rho_p50": 3.0}, {"rho_p50": -1.0}, {"rho_p50": 2.0}])
    {'rho_p50': [-1.0, 3.0]}
    """
    table: dict[str, list[float]] = {}
    for row in measures:
        for name, value in row.items():
            table.setdefault(name, []).append(float(value))
    if not table:
        raise ValueError("no training inputs to take the ranges of")
    return {name: [min(values), max(values)] for name, values in table.items()}


def outside(measures: dict[str, float], training: dict[str, list[float]]) -> list[str]:
    """Each of an input's ``measures`` that lies outside its ``training`` range, in words."""
    found = []
    for name, (low, high) in training.items():
        if name in measures and not low <= measures[name] <= high:
            label, unit = WORDS.get(name, (name, ""))
            found.append(f"{label} {significant(measures[name])}{unit} outside the training range "
                         f"{significant(low)}–{significant(high)}{unit}")
    return found


def write(folder: str | Path, training: dict[str, list[float]]) -> Path:
    """Write the ranges as ``folder/domain.json`` (atomically)."""
    write_json(Path(folder) / FILE, training)
    return Path(folder) / FILE


def read(folder: str | Path) -> dict[str, list[float]]:
    """The ranges of ``folder/domain.json``, empty when the folder has none."""
    path = Path(folder) / FILE
    return json.loads(path.read_text()) if path.exists() else {}
