"""Periodic micro-FE of 3D voxel cubes: the route the paper names as future work.

- :mod:`bonelib.fe3d.hexahedron`: the 8-node trilinear hexahedron;
- :mod:`bonelib.fe3d.voxel_mesh`: the periodic voxel mesh of the element voxels;
- :mod:`bonelib.fe3d.solvers`: CHOLMOD with METIS ordering, AMG-preconditioned CG, SuperLU;
- :mod:`bonelib.fe3d.homogenise`: the 6 × 6 effective stiffness and the fields of a cube;
- :mod:`bonelib.fe3d.analytic`: exact references (laminates, tensor rotation, plane strain).

:func:`bonelib.homogenise` takes either a 2D image (:mod:`bonelib.fe`) or a 3D volume.
"""

from __future__ import annotations

from bonelib.fe3d.hexahedron import LOAD_CASES_3D
from bonelib.fe3d.homogenise import Fields3D, Homogenisation3D, homogenise_3d, tissue_maps

__all__ = ["LOAD_CASES_3D", "Fields3D", "Homogenisation3D", "homogenise_3d", "tissue_maps"]
