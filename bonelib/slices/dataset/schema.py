"""What a dataset store holds: every field defined once, with its shape, type and unit.

The writer, :class:`Samples`, :func:`~bonelib.slices.dataset.load` and
:func:`~bonelib.slices.dataset.describe` all read :data:`FIELDS`.
"""

from __future__ import annotations

from dataclasses import dataclass, make_dataclass

import numpy as np

from bonelib.constants import SCHEMES, SLICE_PX
from bonelib.imaging.density import Calibration

#: Parts of a split scheme, in the order of their codes 0, 1, 2.
SPLITS = ("train", "val", "test")
#: Version of the store's layout; a store of another version is refused.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class Field:
    """One per-sample array of a store.

    Attributes
    ----------
    name : str
        Array name in each vertebra's group, and attribute of :class:`Samples`.
    shape : tuple of int
        Shape of one sample's value.
    dtype : str
        NumPy dtype as stored (``images`` keep the scan's own dtype).
    unit : str
        Unit, ``"-"`` for dimensionless.
    description : str
        What it is.
    kind : str
        ``"image"``; ``"label"`` (from :func:`bonelib.slices.label.slice_record`); ``"index"``
        (where the sample comes from); ``"split"`` (its part in a scheme).
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    unit: str
    description: str
    kind: str


FIELDS = (
    Field("images", (SLICE_PX, SLICE_PX), "int16", "grey", "grey values of the slice (the scan's dtype)", "image"),
    Field("E_eff", (), "float64", "MPa", "effective modulus, Eq. 4", "label"),
    Field("nu_eff", (), "float64", "-", "effective Poisson's ratio, Eq. 5", "label"),
    Field("C", (3, 3), "float64", "MPa", "effective stiffness, Voigt (xx, yy, xy)", "label"),
    Field("vbmd", (), "float64", "mg HA/cm³", "mean ρ_HA of the smoothed slice", "label"),
    Field("bv_tv", (), "float64", "-", "bone area fraction (ρ_ash ≥ 400 mg/cm³)", "label"),
    Field("tb_th", (), "float64", "mm", "mean trabecular thickness", "label"),
    Field("fabric", (2,), "float64", "-", "fabric eigenvalues m₁ ≥ m₂ of the bone phase", "label"),
    Field("slice", (), "int32", "-", "slice index in the vertebra's volume of interest", "index"),
    *(Field(f"split_{scheme}", (), "int8", "-", f"0 train, 1 validation, 2 test, {scheme} scheme", "split")
      for scheme in SCHEMES),
)
#: The fields computed per slice by :func:`bonelib.slices.label.slice_record`.
LABELS = tuple(f.name for f in FIELDS if f.kind == "label")


def field(name: str) -> Field:
    """The :class:`Field` called ``name``."""
    for candidate in FIELDS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no field {name!r}; fields: {', '.join(f.name for f in FIELDS)}")


def _samples_doc() -> str:
    lines = ["One split of a dataset, in memory.", "", "Attributes", "----------"]
    for f in FIELDS:
        if f.kind != "split":
            shape = "(N, 182, 182, 1) float32" if f.kind == "image" else f"(N{''.join(f', {n}' for n in f.shape)})"
            lines += [f"{f.name} : numpy.ndarray", f"    {shape} {f.description} ({f.unit})."]
    lines += ["donor, level : numpy.ndarray", "    (N,) donor ids and spinal levels.",
              "calibration : Calibration", "    Grey value → mg HA/cm³ (the first vertebra's).",
              "meta : dict", "    The store's fingerprint and parameters."]
    return "\n".join(lines)


Samples = make_dataclass(
    "Samples",
    [(f.name, np.ndarray) for f in FIELDS if f.kind != "split"]
    + [("donor", np.ndarray), ("level", np.ndarray), ("calibration", Calibration), ("meta", dict)],
    namespace={"__len__": lambda self: len(self.E_eff), "__doc__": _samples_doc()},
)
Samples.__module__ = __name__
