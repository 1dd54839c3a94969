"""bonelib: the effective elastic modulus of cancellous bone from CT images.

A reproduction and extension of Lu et al. (2023), *Predicting the effective compressive
modulus of human cancellous bone using the convolutional neural network method*, CMBBE
26(10):1150–1159, in layers, each module one concept. The book that runs it is
:mod:`bonebook`, a package of its own that this one never imports.

Shared by both routes:

- :mod:`bonelib.constants`, :mod:`bonelib.reference`: the paper's fixed and reported numbers;
  :mod:`bonelib.versions`: the versions results record, bumped by hand;
- data: :mod:`bonelib.io` (scans: TIFF, DICOM, Scanco AIM/ISQ, NRRD, NIfTI, NumPy),
  :mod:`bonelib.data` (real micro-CT ROIs of human L1 bone), :mod:`bonelib.synth` (synthetic
  cohorts and their realism against real bone);
- :mod:`bonelib.imaging`: the scanner model, the volume of interest, and grey value → density
  → tissue modulus (section 2.2, Eq. 1);
- :mod:`bonelib.fe`: periodic homogenisation of 2D images (Eq. 2–5) and of 3D cubes, and the
  platen test; :func:`homogenise` takes either;
- :mod:`bonelib.morphometry`: sections (``planar``), volumes (``volume``), ``connectivity``;
- :mod:`bonelib.learn`: folds, the ensembles' base, the networks' files, metrics, tables.

Two routes on these layers, with the same module names for the same steps:

- :mod:`bonelib.slices`, the paper's route on 2D slices: ``label``, ``dataset`` (section 2.3),
  ``network``, ``train``, ``crossval``, ``baselines``, ``coarse``, ``evaluate`` (section 3),
  ``pretrained`` (the shipped ensemble), ``sections`` (real sections), ``speed``;
- :mod:`bonelib.cubes`, the 3D route on bone cubes: ``placement``, ``dataset``, ``network``,
  ``pretrained``, ``baselines``, ``evaluate`` (leave specimens out).
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# TensorFlow turns its oneDNN kernels on by itself only on some CPUs (not on the AMD EPYC of
# our 2-core machine); on by default here: the improved CNN trains a paper-scale fold in 20 min
# instead of 38 (``benchmarks/bench_cnn.py``). Read when TensorFlow is first imported; a value
# the user set (0 turns it off) is kept.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def homogenise(E, nu, voxel_size_mm: float = 0.082, **options):
    """Periodic FE homogenisation of a 2D image or a 3D volume of E (MPa) and ν per voxel.

    A 2D image goes to :func:`bonelib.fe.homogenise` (Q4, plane stress, 3 × 3 ``C``), a 3D
    volume to :func:`bonelib.fe.homogenise_3d` (hexahedra, 6 × 6 ``C``); ``options`` are
    theirs. The voxel size is in mm (default the HR-pQCT's 82 µm).
    """
    import numpy as np

    if np.ndim(E) == 3:
        from bonelib.fe import homogenise_3d

        return homogenise_3d(E, nu, voxel_size_mm, **options)
    from bonelib.fe import homogenise as homogenise_2d

    return homogenise_2d(E, nu, voxel_size_mm, **options)
