"""bonelib: the effective elastic modulus of cancellous bone from CT images.

A reproduction and extension of Lu et al. (2023), *Predicting the effective compressive
modulus of human cancellous bone using the convolutional neural network method*, CMBBE
26(10):1150–1159. One module per step of the paper:

- :mod:`bonelib.constants`: voxel size, slice side, spinal levels;
- :mod:`bonelib.io`: loading scans (TIFF, DICOM, NumPy);
- :mod:`bonelib.synth`: the synthetic HR-pQCT-like cohort (section 2.1);
- :mod:`bonelib.scanner`: the scanner model, from bone fraction to grey values;
- :mod:`bonelib.voi`: the cancellous volume of interest (Figure 1);
- :mod:`bonelib.density`: grey value → density → tissue modulus (section 2.2, Eq. 1);
- :mod:`bonelib.fe`: periodic FE homogenisation (Eq. 2–5), and :mod:`bonelib.fe3d` its 3D
  counterpart for bone cubes (:func:`homogenise` takes either);
- :mod:`bonelib.label`: the label of one slice, and :mod:`bonelib.morphometry` its descriptors;
- :mod:`bonelib.dataset`: the labelled dataset (section 2.3);
- :mod:`bonelib.cnn`, :mod:`bonelib.training`: the networks and their training;
- :mod:`bonelib.metrics`, :mod:`bonelib.baselines`, :mod:`bonelib.evaluation`: section 3.
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
    volume to :func:`bonelib.fe3d.homogenise_3d` (hexahedra, 6 × 6 ``C``); ``options`` are
    theirs. The voxel size is in mm (default the HR-pQCT's 82 µm).
    """
    import numpy as np

    if np.ndim(E) == 3:
        from bonelib.fe3d import homogenise_3d

        return homogenise_3d(E, nu, voxel_size_mm, **options)
    from bonelib.fe import homogenise as homogenise_2d

    return homogenise_2d(E, nu, voxel_size_mm, **options)
