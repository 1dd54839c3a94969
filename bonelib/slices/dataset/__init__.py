"""The labelled dataset: CT slices and their FE effective moduli (paper sections 2.1 and 2.3).

:func:`build` turns the synthetic cohort (or a folder of the user's scans) into a Zarr
store, one group per vertebra, resumable; :func:`load` reads one split of it back;
:func:`describe` summarises it against the paper. The label of each slice is
:func:`bonelib.slices.label.label`.

- :mod:`bonelib.slices.dataset.schema`: the fields of a store (:data:`FIELDS`), splits, schemes;
- :mod:`bonelib.slices.dataset.sources`: synthetic and scanned vertebrae, scales, the split plan;
- :mod:`bonelib.slices.dataset.store`: writing, opening, loading, describing a store;
- :mod:`bonelib.slices.dataset.build`: the build on Dask.
"""

from bonelib.slices.dataset.build import build, plan_synthetic
from bonelib.slices.dataset.schema import FIELDS, SCHEMES, SPLITS, Field, Samples
from bonelib.slices.dataset.sources import SCALES, Scale
from bonelib.slices.dataset.store import describe, fingerprint, load

__all__ = ["FIELDS", "SCALES", "SCHEMES", "SPLITS", "Field", "Samples", "Scale", "build", "describe",
           "fingerprint", "load", "plan_synthetic"]
