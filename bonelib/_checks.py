"""Input validation shared by the public functions of :mod:`bonelib`."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def finite_array(values: ArrayLike, name: str, *, ndim: int | tuple[int, ...] | None = None) -> NDArray:
    """Return ``values`` as a non-empty, finite, real floating-point array.

    Integer input is converted to ``float64``; floating input keeps its dtype.

    Raises
    ------
    ValueError
        If the input is not numeric, is empty, has the wrong number of
        dimensions, or holds NaN or infinite values. The message names
        ``name``.
    """
    try:
        array = np.asarray(values)
    except Exception as error:  # ragged nested sequences, unconvertible objects
        raise ValueError(f"{name} must be a numeric array: {error}") from error
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be a real numeric array, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if array.ndim not in allowed:
            wanted = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {wanted}, got shape {array.shape}")
    if array.dtype.kind != "f":
        array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return array
