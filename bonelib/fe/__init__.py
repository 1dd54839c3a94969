"""Periodic finite-element homogenisation of 2D images (paper section 2.2, Eq. 2–5) and of 3D
voxel cubes (the route the paper names as future work), and the platen compression test.

- :mod:`bonelib.fe.materials`: E and ν per pixel or voxel, checked; tissue maps of a segmentation;
- :mod:`bonelib.fe.quad4`, :mod:`bonelib.fe.hex8`: the Q4 plane-stress element and the 8-node
  trilinear hexahedron;
- :mod:`bonelib.fe.pixel_mesh`, :mod:`bonelib.fe.voxel_mesh`: the periodic meshes and their
  sparsity patterns;
- :mod:`bonelib.fe.solvers`: CHOLMOD, SuperLU and (3D) multigrid-preconditioned CG
  (:mod:`bonelib.fe.multigrid`, its finest level applied element by element by
  :mod:`bonelib.fe.element_operator`), one set-up for all load cases; :mod:`bonelib.fe.memory`
  refuses a solve that will not fit;
- :mod:`bonelib.fe.homogenise` (2D, 3 × 3 ``C``), :mod:`bonelib.fe.homogenise_3d` (6 × 6 ``C``):
  effective stiffness and fields; :func:`bonelib.homogenise` takes either by dimension;
- :mod:`bonelib.fe.platens`: the apparent modulus between frictionless or bonded platens;
- :mod:`bonelib.fe.analytic`: exact references (isotropic, laminates, bounds, tensor rotation,
  plane strain).
"""

from __future__ import annotations

import scipy.sparse as sp
from numpy.typing import ArrayLike

from bonelib.fe.hex8 import LOAD_CASES_3D
from bonelib.fe.homogenise import LOAD_CASES, Fields, Homogenisation, homogenise
from bonelib.fe.homogenise_3d import homogenise_3d
from bonelib.fe.materials import check_materials, tissue_maps
from bonelib.fe.pixel_mesh import periodic_grid
from bonelib.fe.platens import PlatenTest, compression_test
from bonelib.fe.quad4 import element_stiffness
from bonelib.fe.solvers import available as available_solvers


def stiffness_matrix(E: ArrayLike, nu: ArrayLike) -> sp.csr_matrix:
    """Reduced periodic stiffness matrix of an image: free DOFs, nested-dissection order.

    Parameters
    ----------
    E, nu : array_like
        (rows, cols) Young's modulus (MPa) and Poisson's ratio per pixel.
    """
    E, nu = check_materials(E, nu)
    return periodic_grid(*E.shape).reduced_matrix(element_stiffness(E.ravel(), nu.ravel()))


__all__ = ["LOAD_CASES", "LOAD_CASES_3D", "Fields", "Homogenisation", "PlatenTest",
           "available_solvers", "compression_test", "homogenise", "homogenise_3d", "stiffness_matrix", "tissue_maps"]
