"""The versions of the code that makes results, bumped by hand when its behaviour changes.

A result records the versions of the code that made it (a dataset its label version, a
training run its training version), never a hash of source files: an edited docstring or a
moved function changes no result, so it invalidates none. A change of behaviour must bump
its version; the tests that recompute recorded samples from the code
(``tests/test_recorded_labels.py``, ``tests/test_snapshot.py``, ``tests/test_cube_route.py``)
fail when one was forgotten.

>>> from bonelib import versions
>>> versions.slice_route()  # what the 2D route's provenance.json records
{'labels': 1, 'training': 1}
"""

from __future__ import annotations

#: The 2D route's images and labels: the synthetic cohort, the scanner model, the volume of
#: interest, Eq. 1, the periodic FE label and the slice descriptors. A dataset's identity.
SLICE_LABELS = 1
#: The 2D networks and their training (inputs, architectures, loss, folds, schedule).
SLICE_TRAINING = 1
#: The 3D route's cubes and labels: cube placement, the scanner model on real and realistic
#: volumes, the periodic 3D FE label and the cube descriptors.
CUBE_LABELS = 1
#: The 3D network's architecture (:func:`bonelib.cubes.network.cube_model`); its weights record it.
CUBE_NETWORK = 2
#: The 3D network's training and evaluation (folds, validation, augmentation, schedule): 3 is the
#: loop of both routes (:func:`bonelib.learn.train.fit`: a symmetry and shift per cube, validation
#: specimens, precise batch norm) on the 2D route's folds, which trained the shipped networks; 2 was
#: Keras ``fit`` with a symmetry per batch and no validation (a trial, ``results/paper/cubes3d-fit``);
#: 1 a loop of the 3D route's own (the networks shipped before, ``results/paper/cubes3d-hand``).
CUBE_TRAINING = 3


def slice_route() -> dict[str, int]:
    """The versions of the 2D route's results, as its ``provenance.json`` records them."""
    return {"labels": SLICE_LABELS, "training": SLICE_TRAINING}


def package_versions(packages: tuple[str, ...]) -> dict[str, str | None]:
    """The installed version of each of ``packages`` (None: not installed), as results record them.

    >>> package_versions(("numpy", "no-such-package"))["no-such-package"] is None
    True
    """
    from importlib import metadata

    installed: dict[str, str | None] = {}
    for package in packages:
        try:
            installed[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed[package] = None
    return installed
